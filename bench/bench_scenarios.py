"""Wall time of the scenario library in-process and over HTTP against `connect-sim serve`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from scenarios.runner import RunOptions, run_all
from scenarios.validation import discover, load_scenario

LIBRARY = Path(__file__).resolve().parents[1] / "scenarios" / "library"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timed(options: RunOptions) -> tuple[float, int, int]:
    scenarios = [load_scenario(p) for p in discover([LIBRARY])]
    start = time.perf_counter()
    results = run_all(scenarios, options)
    return time.perf_counter() - start, sum(r.passed for r in results), len(results)


def _served(jobs: int) -> tuple[float, int, int]:
    """A fresh `connect-sim serve` per run (scenario seeds repeat between runs)."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "serve", "--port", str(port)]
            + ["--db", f"{tmp}/bench.db"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if requests.get(base + "/health", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            return _timed(RunOptions(base_url=base, jobs=jobs))
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)


def main() -> None:
    results = {}
    wall, passed, total = _timed(RunOptions())
    results["in-process"] = {"scenarios": total, "passed": passed, "wall_s": round(wall, 2)}
    print(f"in-process      : {total} scenarios, {passed} passed, {wall:.2f} s wall")
    for jobs in (1, 4):
        wall, passed, total = _served(jobs)
        results[f"http-jobs-{jobs}"] = {
            "scenarios": total,
            "passed": passed,
            "wall_s": round(wall, 2),
        }
        print(f"HTTP, --jobs {jobs}  : {total} scenarios, {passed} passed, {wall:.2f} s wall")
    print(json.dumps({"bench": "scenarios", "results": results}))


if __name__ == "__main__":
    main()

"""Many workspaces in one process: latency of a simple call, the ticker's cost, memory.

In-process (no sockets). For 1, 100 and 1,000 workspaces with real clocks and
the background ticker running (every 0.2 s), times `GET /patients` from one
workspace (p50 and p99), then the same with manual clocks, and prints the RSS,
the time of one ticker pass over all those workspaces (the wakeup index: idle
ones are not read) and what the process keeps per workspace (workspace locks,
quiet-cache entries). Then runs complete headless flows and prints the RSS
after them. Prints a table and one JSON line.

    python bench/bench_workspaces.py [--counts 1,100,1000] [--calls 2000] [--flows 1000]
    python bench/bench_workspaces.py --db postgresql://...   # on PostgreSQL
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.core.runtime import Ticker  # noqa: E402
from simulator.testing import TEST_DB_ENV, Sim  # noqa: E402

EPIC = "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def latency(count: int, clock: str, calls: int) -> dict[str, float]:
    with Sim(start_ticker=True, default_clock=clock) as sim:
        apis = [sim.new_workspace(clock=clock)[0] for _ in range(count)]
        api = apis[0]
        api.post("/patients", {"patient_id": "p1"})
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            api.get("/patients")
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        ticker = Ticker(sim.runtime, interval=60)  # not started: one pass, timed
        ticks = []
        for _ in range(20):
            started = time.perf_counter()
            ticker.tick()
            ticks.append((time.perf_counter() - started) * 1000)
        kept = sim.runtime.scheduler.footprint()
        return {
            "p50_ms": statistics.median(times),
            "p99_ms": times[int(len(times) * 0.99) - 1],
            "rss_mb": rss_mb(),
            "tick_ms": statistics.median(ticks),
            "locks_kept": kept["workspace_locks"],
            "quiet_kept": kept["quiet"],
        }


def flows(count: int) -> dict[str, float]:
    with Sim() as sim:
        api, _ = sim.new_workspace(seed=9)
        before = rss_mb()
        started = time.perf_counter()
        for i in range(count):
            session = api.post(
                "/patient-sessions", {"patient_id": f"p{i}", "return_url": "https://app.example/r"}
            ).json
            api.post(
                f"/_sim/patient-sessions/{session['id']}/connect",
                {"source": EPIC, "username": "alice"},
            )
            api.post(f"/_sim/patient-sessions/{session['id']}/done")
        elapsed = time.perf_counter() - started
        return {
            "flows": count,
            "flows_per_s": count / elapsed,
            "rss_before_mb": before,
            "rss_after_mb": rss_mb(),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="1,100,1000")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--db", default=None, help="a postgresql:// URL (a schema per run)")
    args = parser.parse_args()
    if args.db:
        os.environ[TEST_DB_ENV] = args.db  # every Sim gets a fresh schema of that database
    else:
        os.environ.pop(TEST_DB_ENV, None)  # SQLite, whatever the shell has set
    store = "postgresql" if args.db else "memory"
    rows = {}
    for count in (int(c) for c in args.counts.split(",")):
        for clock in ("real", "manual"):
            rows[f"{count}:{clock}"] = latency(count, clock, args.calls)
    print(f"store: {store}")
    print(
        f"{'workspaces':>10} {'clock':>7} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>8}"
        f" {'tick ms':>8} {'locks':>6} {'quiet':>6}"
    )
    for key, r in rows.items():
        count, clock = key.split(":")
        print(
            f"{count:>10} {clock:>7} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['rss_mb']:>8.0f}"
            f" {r['tick_ms']:>8.2f} {r['locks_kept']:>6} {r['quiet_kept']:>6}"
        )
    flow = flows(args.flows)
    print(
        f"{flow['flows']} flows: {flow['flows_per_s']:.1f} flows/s,"
        f" RSS {flow['rss_before_mb']:.0f} MB -> {flow['rss_after_mb']:.0f} MB"
    )
    print(json.dumps({"bench": "workspaces", "store": store, "latency": rows, "flows": flow}))


if __name__ == "__main__":
    main()

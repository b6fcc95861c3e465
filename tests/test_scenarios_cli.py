"""`connect-sim scenario run|schema`: exit codes, reports, selection, and the same results
over real HTTP against `connect-sim serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from scenarios.schema import build_schema
from simulator.cli import main

LIBRARY = Path(__file__).resolve().parents[1] / "scenarios" / "library"
PASSING = "name: ok\ntags: [smoke]\nsteps:\n  - app: list_patients\n    expect: {status: 200}\n"
FAILING = "name: nope\nsteps:\n  - app: list_patients\n    expect: {status: 201}\n"


def _cli(*args: str):
    return CliRunner().invoke(main, ["scenario", *args])


def test_schema_command_prints_the_json_schema() -> None:
    result = _cli("schema")
    assert result.exit_code == 0
    assert json.loads(result.output) == build_schema()


def test_exit_codes_and_reports(tmp_path: Path) -> None:
    (tmp_path / "ok.scenario.yaml").write_text(PASSING)
    ok = _cli("run", str(tmp_path / "ok.scenario.yaml"), "--json", str(tmp_path / "r.json"))
    assert ok.exit_code == 0, ok.output
    assert "PASSED ok" in ok.output and "virtual 0s" in ok.output
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["passed"] == 1
    (tmp_path / "no.scenario.yaml").write_text(FAILING)
    bad = _cli("run", str(tmp_path), "--junit", str(tmp_path / "j.xml"))
    assert bad.exit_code == 1
    assert f"{tmp_path / 'no.scenario.yaml'}:4:22 (step 1): status: expected equals 201" in (
        bad.output
    )
    assert "<failure" in (tmp_path / "j.xml").read_text()


def test_an_invalid_file_exits_2_and_nothing_runs(tmp_path: Path) -> None:
    (tmp_path / "ok.scenario.yaml").write_text(PASSING)
    (tmp_path / "z.scenario.yaml").write_text("name: z\nsteps:\n  - clok: {}\n")
    result = _cli("run", str(tmp_path), "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 2
    assert "z.scenario.yaml:3:5: unknown step kind 'clok'" in result.output
    assert "PASSED" not in result.output and not (tmp_path / "r.json").exists()


def test_keyword_and_tag_selection(tmp_path: Path) -> None:
    (tmp_path / "ok.scenario.yaml").write_text(PASSING)
    (tmp_path / "no.scenario.yaml").write_text(FAILING)
    assert _cli("run", str(tmp_path), "--tags", "smoke").exit_code == 0
    assert _cli("run", str(tmp_path), "-k", "not nope").exit_code == 0
    assert _cli("run", str(tmp_path), "-k", "nope", "--jobs", "2").exit_code == 1


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "--port", str(port)]
        + ["--db", str(tmp_path / "sim.db")],
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
        yield base
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_library_subset_gives_the_same_results_over_http(served: str, tmp_path: Path) -> None:
    chosen = ["-k", "webhook or direct or expires or forced"]
    local = _cli("run", str(LIBRARY), *chosen, "--json", str(tmp_path / "local.json"))
    remote = _cli(
        "run", str(LIBRARY), *chosen, "--base-url", served, "--json", str(tmp_path / "http.json")
    )
    assert local.exit_code == remote.exit_code == 0, remote.output
    statuses = [
        [(s["name"], s["status"]) for s in json.loads((tmp_path / f).read_text())["scenarios"]]
        for f in ("local.json", "http.json")
    ]
    assert statuses[0] == statuses[1] and len(statuses[0]) >= 8

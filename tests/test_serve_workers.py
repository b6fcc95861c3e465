"""`connect-sim serve --workers N`: N processes on one port and one database.

The supervisor starts the workers, the kernel spreads connections over them, a
worker killed with SIGKILL is replaced, SIGTERM drains every worker, and workers
whose supervisor died stop on their own; on a SQLite file and on PostgreSQL. One
Python process uses one core: this is how a single `serve` command uses more.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from instancekit import SERVER_URL, needs_postgres
from test_foundation_restart import KEY, READY_TIMEOUT_S, free_port

from simulator.cli import main
from simulator.core.store_pg import create_schema, drop_schema


class Workers:
    """`serve --workers count` on a fresh SQLite file or PostgreSQL schema, its output in
    `log`."""

    def __init__(self, tmp: Path, backend: str, count: int = 2) -> None:
        self.schema: str | None = None
        if backend == "postgres":
            self.schema = "workers_" + secrets.token_hex(5)
            url = create_schema(SERVER_URL, self.schema)
        else:
            url = str(tmp / "sim.db")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "serve.log"
        cmd = [
            sys.executable,
            *("-m", "simulator.cli", "serve", "--db", url, "--port", str(self.port)),
            *("--clock", "manual", "--api-key", KEY, "--workers", str(count)),
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.wait_for(lambda: self.serving(self.children()) == count, "workers ready")

    def children(self) -> list[int]:
        """The supervisor's live worker processes."""
        found = subprocess.run(
            ["ps", "--ppid", str(self.proc.pid), "-o", "pid=,stat="],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split("\n")
        return [
            int(line.split()[0]) for line in found if line.strip() and "Z" not in line.split()[1]
        ]

    def serving(self, pids: list[int]) -> int:
        """How many of `pids` logged that they serve."""
        lines = [line for line in self.output().splitlines() if "serving on port" in line]
        return sum(any(f"[{pid}] connect_sim.workers" in line for line in lines) for pid in pids)

    def healthy(self) -> bool:
        try:
            return requests.get(self.base + "/health", timeout=5).ok
        except requests.ConnectionError:
            return False

    def wait_for(self, done, what: str, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not done():  # real time by nature: processes start and stop
            assert time.monotonic() < deadline, f"{what}: timed out\n" + self.output()
            time.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for pid in self.children():
            os.kill(pid, signal.SIGKILL)
        if self.schema is not None:
            drop_schema(SERVER_URL, self.schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def workers(request: pytest.FixtureRequest, tmp_path: Path):
    made = Workers(tmp_path, request.param)
    try:
        yield made
    finally:
        made.close()


def answered_by(output: str, path: str) -> Counter[int]:
    """How many access-log lines for `path` each process wrote (`[pid]` in every line)."""
    counts: Counter[int] = Counter()
    for line in output.splitlines():
        if f'"GET {path}"' in line and "connect_sim.access" in line:
            counts[int(line.split("[", 1)[1].split("]", 1)[0])] += 1
    return counts


def test_workers_share_one_port_and_one_database(workers: Workers) -> None:
    pids = set(workers.children())
    auth = {"Authorization": f"Bearer {KEY}"}
    made = requests.post(
        workers.base + "/patients", json={"patient_id": "shared"}, headers=auth, timeout=30
    )
    assert made.ok, made.text
    for _ in range(60):  # a new connection each: the kernel picks a worker for each
        got = requests.get(workers.base + "/patients/shared", headers=auth, timeout=30)
        assert got.status_code == 200 and got.json()["id"] == "shared", got.text
    counts = answered_by(workers.output(), "/patients/shared")
    assert sum(counts.values()) == 60
    assert set(counts) == pids, (counts, pids)  # both workers answered, and only they
    assert workers.output().count("connect-sim is running") == 1  # one banner
    assert "workers  : 2 processes on one port" in workers.output()


def test_a_killed_worker_is_replaced_and_sigterm_stops_them_all(workers: Workers) -> None:
    first, second = workers.children()
    os.kill(first, signal.SIGKILL)
    workers.wait_for(
        lambda: len(workers.children()) == 2 and first not in workers.children(), "replaced"
    )
    assert second in workers.children()
    workers.wait_for(lambda: workers.serving(workers.children()) == 2, "the new one serving")
    assert workers.healthy()
    assert "exited with -9; starting another" in workers.output()
    children = workers.children()
    workers.proc.send_signal(signal.SIGTERM)
    assert workers.proc.wait(timeout=60) == 0, workers.output()
    assert workers.output().count("draining running work") >= 2
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_workers_stop_when_their_supervisor_dies(workers: Workers) -> None:
    children = workers.children()
    workers.proc.send_signal(signal.SIGKILL)
    workers.proc.wait(timeout=10)

    def gone() -> bool:
        alive = 0
        for pid in children:
            try:
                os.kill(pid, 0)
                alive += 1
            except ProcessLookupError:
                pass
        return alive == 0

    workers.wait_for(gone, "workers exit after their supervisor")
    assert workers.output().count("draining running work") == 2


def test_more_than_one_worker_needs_a_database_that_outlives_a_process() -> None:
    result = CliRunner().invoke(main, ["serve", "--db", ":memory:", "--workers", "2"])
    assert result.exit_code == 2
    assert "more than one worker needs a database file or a postgresql:// URL" in result.output


@needs_postgres
def test_workers_that_cannot_start_stop_their_supervisor(tmp_path: Path) -> None:
    missing = SERVER_URL.replace("/postgres?", "/no_such_database?", 1)
    assert missing != SERVER_URL
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "serve", "--workers", "2", "--port", "0"]
        + ["--db", missing],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "cannot open the database" in done.stderr
    assert "before serving; stopping" in done.stderr
    assert "starting another" not in done.stderr


@pytest.mark.parametrize("extra", [[], ["--workers", "2"]])
def test_a_port_in_use_is_a_clear_error(tmp_path: Path, extra: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["serve", "--port", str(port), "--db", str(tmp_path / "sim.db"), *extra]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.output
    assert "Traceback" not in result.output

"""State survives a hard kill: `serve` on a SQLite file, SIGKILL, serve again on the same file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

KEY = "mb_sk_sbx_restart_test_key"
RETURN_URL = "https://app.example/done"
READY_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(
    db: Path, port: int, log: Path, crash_at: str | None = None, args: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen]:
    """`connect-sim serve` as a child process, ready when /health answers.

    `crash_at` ("module:function,N,before|after") plants a SIGKILL at that point
    (tests/crash_serve.py)."""
    runner = (
        [str(Path(__file__).with_name("crash_serve.py"))] if crash_at else ["-m", "simulator.cli"]
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if crash_at:
        env["CRASH_AT"] = crash_at
    cmd = [
        sys.executable,
        *runner,
        "serve",
        "--db",
        str(db),
        "--port",
        str(port),
        "--clock",
        "manual",
        "--api-key",
        KEY,
        *args,
    ]
    with ready_process(cmd, log, f"http://127.0.0.1:{port}/health", env=env) as proc:
        yield proc


@contextmanager
def ready_process(
    cmd: list[str],
    log: Path,
    ready_url: str,
    *,
    env: dict[str, str] | None = None,
    graceful: bool = False,
) -> Iterator[subprocess.Popen]:
    """A child process writing to `log`, yielded once `ready_url` answers 2xx.

    On exit it is killed (SIGKILL), or with `graceful` sent SIGTERM first (SIGKILL after
    10 s)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:  # real time by nature: the process has to start
            assert proc.poll() is None, log.read_text()
            try:
                if requests.get(ready_url, timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (
                f"{' '.join(cmd[1:4])} did not start:\n" + log.read_text()
            )
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            if graceful:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            else:
                proc.kill()
        proc.wait(timeout=10)


class Client:
    def __init__(self, port: int, key: str = KEY) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def get(self, path: str, **params) -> dict:
        resp = self.http.get(self.base + path, params=params, timeout=10)
        assert resp.ok, resp.text
        return resp.json()

    def post(self, path: str, body: dict | None = None) -> dict:
        resp = self.http.post(self.base + path, json=body, timeout=10)
        assert resp.ok, resp.text
        return resp.json()


def snapshot(client: Client, patient_ids: list[str], session_ids: list[str]) -> dict:
    return {
        "clock": client.get("/_sim/clock"),
        "patients": [client.get(f"/patients/{p}") for p in patient_ids],
        "sessions": [client.get(f"/patient-sessions/{s}") for s in session_ids],
        "list": client.get("/patients", limit=100),
    }


def test_kill_9_and_restart_keeps_patients_sessions_and_the_clock(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    port = free_port()
    first_log = tmp_path / "first.log"

    with server(db, port, first_log) as proc:
        banner = first_log.read_text()
        base = f"http://127.0.0.1:{port}"
        assert f"base URL : {base}" in banner
        assert f"API key  : {KEY}" in banner
        assert f"curl -s -X POST {base}/patient-sessions" in banner
        assert f"dashboard: {base}/" in banner and f"{base}/docs" in banner

        api = Client(port)
        other_ws = requests.post(f"{base}/_sim/workspaces", json={"seed": 3}, timeout=10).json()
        other = Client(port, other_ws["api_key"])
        other.post("/patients", {"patient_id": "elsewhere"})

        patient_ids = ["alice", "bob"]
        api.post(
            "/patients", {"patient_id": "alice", "email": "a@example.com", "metadata": {"k": 1}}
        )
        short = api.post(
            "/patient-sessions", {"patient_id": "bob", "return_url": RETURN_URL, "expires_in": 60}
        )
        long = api.post(
            "/patient-sessions",
            {"patient_id": "alice", "return_url": RETURN_URL, "expires_in": 7200},
        )
        advanced = api.post("/_sim/clock/advance", {"seconds": 600})
        assert advanced["jobs_run"] == 1
        before = snapshot(api, patient_ids, [short["id"], long["id"]])
        assert [s["status"] for s in before["sessions"]] == ["expired", "open"]
        assert before["clock"]["now"] == advanced["now"]

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    with server(db, port, tmp_path / "second.log"):
        api = Client(port)
        after = snapshot(api, patient_ids, [short["id"], long["id"]])
        assert after == before
        # the other workspace and its key survived too
        assert Client(port, other_ws["api_key"]).get("/patients/elsewhere")["id"] == "elsewhere"
        # the pending expiry job survived: it runs when the clock reaches it
        result = api.post("/_sim/clock/advance", {"seconds": 7200})
        assert result["jobs_run"] == 1
        assert api.get(f"/patient-sessions/{long['id']}")["status"] == "expired"
        # the id sequence continued instead of starting again
        third = api.post("/patient-sessions", {"patient_id": "carol", "return_url": RETURN_URL})
        assert third["id"] not in (short["id"], long["id"])

"""SIGTERM drains: a running advance finishes and answers, then the store closes.

Real processes and real signals; the wait for "mid-advance" is the clock seen moving,
not a sleep.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import requests
from test_foundation_restart import RETURN_URL, Client, free_port, server

ADVANCE_S = 2 * 86400


def _keep_a_connection(client: Client) -> str:
    client.post("/patients", {"patient_id": "p1"})
    sources = client.get("/connections", limit=100)["data"]
    cerner = next(s["id"] for s in sources if "lakeside" in s["name"].lower())
    session = client.post("/patient-sessions", {"patient_id": "p1", "return_url": RETURN_URL})
    body = {"username": "alice", "source": cerner, "consent": "approve", "password": "password"}
    connected = client.post(f"/_sim/patient-sessions/{session['id']}/connect", body)
    return connected["connection"]["id"]


def test_sigterm_mid_advance_lets_the_advance_finish_then_exits_cleanly(tmp_path: Path) -> None:
    db, log, port = tmp_path / "sim.db", tmp_path / "serve.log", free_port()
    with server(db, port, log) as proc:
        client = Client(port)
        connection = _keep_a_connection(client)
        start = client.get("/_sim/clock")["now"]
        answer: dict = {}

        def advance() -> None:
            resp = client.http.post(
                client.base + "/_sim/clock/advance", json={"seconds": ADVANCE_S}, timeout=300
            )
            answer.update(status=resp.status_code, body=resp.json())

        worker = threading.Thread(target=advance)
        worker.start()
        deadline = time.monotonic() + 60
        while client.get("/_sim/clock")["now"] == start:  # the advance is under way
            assert worker.is_alive(), answer
            assert time.monotonic() < deadline, "the advance never moved the clock"
        proc.terminate()
        worker.join(timeout=300)
        assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
        assert answer["status"] == 200, answer
        assert answer["body"]["jobs_run"] > 0
        text = log.read_text()
        assert "closed database" not in text and "Traceback" not in text, text[-3000:]
        assert "draining" in text
        # stopped accepting: nothing listens any more
        try:
            requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
            raise AssertionError("the server still answers after SIGTERM")
        except requests.ConnectionError:
            pass

    port2 = free_port()  # a restart, on another port, opens the same intact store
    with server(db, port2, tmp_path / "again.log"):
        again = Client(port2)
        assert again.get("/_sim/clock")["now"] == answer["body"]["now"]
        conn = again.get(f"/_sim/connections/{connection}")
        assert conn["status"] == "active", conn

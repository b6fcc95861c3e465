"""`/_sim/api-faults` hang and drop over a real `serve`: the client's timeout fires, the
connection ends with no answer, and a SIGTERM drain is not held up by a hanging call."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from test_foundation_restart import KEY, Client, free_port, server

AUTH = {"Authorization": f"Bearer {KEY}"}


def test_a_dropped_connection_closes_with_no_answer(tmp_path: Path) -> None:
    port = free_port()
    with server(tmp_path / "sim.db", port, tmp_path / "serve.log"):
        client = Client(port)
        fault = client.post("/_sim/api-faults", {"mode": "drop", "method": "POST"})
        assert fault["id"].startswith("apifault_")
        base = f"http://127.0.0.1:{port}"
        with pytest.raises(requests.ConnectionError) as caught:
            requests.post(base + "/patients", json={"patient_id": "p1"}, headers=AUTH, timeout=10)
        assert not isinstance(caught.value, requests.Timeout)
        assert client.get("/patients")["data"] == []  # nothing was stored
        assert client.get("/_sim/api-faults")["data"] == []  # the fault is spent
        assert client.post("/patients", {"patient_id": "p1"})["id"] == "p1"


def test_a_hang_outlasts_the_clients_timeout_and_a_drain_ends_it(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with server(tmp_path / "sim.db", port, log) as proc:
        client = Client(port)
        hang = {"mode": "hang", "hang_seconds": 120, "times": 2, "method": "GET"}
        client.post("/_sim/api-faults", hang)
        base = f"http://127.0.0.1:{port}"
        with pytest.raises(requests.ReadTimeout):
            requests.get(base + "/patients", headers=AUTH, timeout=1)
        # while that call still hangs, the workspace is free: no transaction, no clock held
        assert client.post("/patients", {"patient_id": "p1"})["id"] == "p1"
        assert client.post("/_sim/clock/advance", {"seconds": 60})["now"]
        # a second call hangs too; SIGTERM while it hangs: the drain ends the hang
        pending = requests.Session()
        pending.headers.update(AUTH)
        with ThreadPoolExecutor(1) as pool:
            hanging = pool.submit(pending.get, base + "/patients", timeout=60)
            deadline = time.monotonic() + 10
            while client.get("/_sim/api-faults")["data"]:  # polling until the call meets it
                assert time.monotonic() < deadline
                time.sleep(0.05)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0, log.read_text()
            assert time.monotonic() - started < 15  # not the 120 s hang, nor the 30 s drain
            answered = hanging.result(timeout=5)
        assert answered.status_code == 504
        assert answered.json()["error"]["type"] == "api_error"

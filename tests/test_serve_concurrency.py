"""`connect-sim serve` with its default options never starves itself.

The simulator's calls to its own hosted pages and portals (the headless
patient, the code exchange, the first pull) are answered in process, so they
take no server worker: eight patients connecting at once on the default eight
threads all succeed, while plain API calls keep being answered.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flowkit import EPIC, RETURN_URL
from livekit import free_port

ROOT = Path(__file__).resolve().parent.parent
KEY = "mb_sk_sbx_concurrency_test_key"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "--port", str(port)]
        + ["--db", str(tmp_path / "sim.db"), "--api-key", KEY],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "connect-sim serve exited"
            try:
                if requests.get(base + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                assert time.monotonic() < deadline, "connect-sim serve did not start"
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _post(base: str, path: str, body: dict | None = None) -> requests.Response:
    return requests.post(
        base + path, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    )


def test_eight_patients_connecting_at_once_on_the_default_threads_all_succeed(
    served: str,
) -> None:
    sessions = [
        _post(served, "/patient-sessions", {"patient_id": f"p{i}", "return_url": RETURN_URL})
        for i in range(8)
    ]
    assert [s.status_code for s in sessions] == [200] * 8
    start = threading.Barrier(9)
    outcomes: list[tuple[int, str | None, int]] = []
    api_statuses: list[int] = []

    def patient(session_id: str) -> None:
        start.wait()
        connected = _post(
            served,
            f"/_sim/patient-sessions/{session_id}/connect",
            {"source": EPIC, "username": "alice"},
        )
        status = connected.json()["connection"]["status"] if connected.ok else None
        done = _post(served, f"/_sim/patient-sessions/{session_id}/done")
        outcomes.append((connected.status_code, status, done.status_code))

    threads = [threading.Thread(target=patient, args=(s.json()["id"],)) for s in sessions]
    for thread in threads:
        thread.start()
    start.wait()
    while any(t.is_alive() for t in threads):
        api_statuses.append(
            requests.get(
                served + "/patients", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
            ).status_code
        )
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [(200, "active", 200)] * 8
    assert api_statuses and set(api_statuses) == {200}
    for session in sessions:
        got = requests.get(
            served + f"/patient-sessions/{session.json()['id']}",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=10,
        ).json()
        assert got["status"] == "complete"
        assert [c["status"] for c in got["connections"]] == ["active"]

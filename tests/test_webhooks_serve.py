"""Deliveries over real loopback HTTP: a served simulator, a receiver on a free port, a kill -9."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from simulator.compose import build
from simulator.core.config import Config

ROOT = Path(__file__).resolve().parent.parent
CONNECT_SIM = ROOT / ".venv" / "bin" / "connect-sim"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """A small integrator receiver: records deliveries; `/slow` answers after 6 s."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": raw}
                    )
                if self.path == "/slow":
                    time.sleep(6)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        with self.lock:
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


class Served:
    """The whole WSGI app from `server.build()` on a loopback port, clock in real mode."""

    def __init__(self, tmp: Path) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.rt, wsgi = build(
            Config(
                db_path=str(tmp / "served.db"),
                base_url=self.base,
                default_clock="real",
                start_ticker=True,
            )
        )
        self.server = make_server("127.0.0.1", port, wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.headers = {"Authorization": f"Bearer {self.rt.default_api_key}"}

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method, self.base + path, json=body, headers=self.headers, timeout=30
        )

    def close(self) -> None:
        self.server.shutdown()
        self.rt.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path)
    yield s
    s.close()


def fire_sync(call, source: str, patient_id: str = "p-serve") -> dict[str, Any]:
    call("POST", "/patients", {"patient_id": patient_id})
    resp = call(
        "POST",
        "/_sim/events",
        {"type": "records.sync.failed", "patient_id": patient_id, "connection_id": source},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_loopback_receiver_gets_signed_deliveries(served: Served, receiver: Receiver) -> None:
    assert served.call("GET", "/_sim/clock").json()["mode"] == "real"
    wh = served.call("POST", "/webhooks", {"url": receiver.url + "/hook", "events": ["*"]}).json()
    source = served.call("GET", "/connections?limit=1").json()["data"][0]["id"]
    occurrence = fire_sync(served.call, source)
    (got,) = receiver.wait_for(1)
    header = got["headers"]["Medblocks-Signature"]
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(
        wh["secret"].encode(), parts["t"].encode() + b"." + got["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
    assert abs(int(parts["t"]) - time.time()) < 60
    envelope = json.loads(got["body"])
    assert envelope["id"] == occurrence["deliveries"][0]["id"]
    record = served.call("GET", f"/webhooks/{wh['id']}/events").json()["data"][0]
    deadline = time.monotonic() + 5
    while record["delivered_at"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
        record = served.call("GET", f"/webhooks/{wh['id']}/events").json()["data"][0]
    assert record["last_status_code"] == 200 and record["attempts"] == 1


def test_a_six_second_response_is_a_timeout(served: Served, receiver: Receiver) -> None:
    wh = served.call("POST", "/webhooks", {"url": receiver.url + "/slow", "events": ["*"]}).json()
    source = served.call("GET", "/connections?limit=1").json()["data"][0]["id"]
    started = time.monotonic()
    fire_sync(served.call, source)
    deadline = time.monotonic() + 15
    record = None
    while time.monotonic() < deadline:
        record = served.call("GET", f"/webhooks/{wh['id']}/events").json()["data"][0]
        if record["attempts"] >= 1:
            break
        time.sleep(0.1)
    assert record is not None and record["attempts"] == 1
    assert record["delivered_at"] is None
    assert record["last_status_code"] is None
    assert record["next_attempt_at"] is not None
    elapsed = time.monotonic() - started
    assert 4.5 <= elapsed < 6.0  # gave up at 5 s, did not wait for the answer
    log = served.call("GET", f"/_sim/webhooks/{wh['id']}/attempts").json()["data"]
    assert log[0]["error"].startswith("timeout") and log[0]["succeeded"] is False


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"connect-sim exited with {proc.returncode}")
        try:
            if requests.get(base + "/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError("connect-sim did not start")


def start_server(db: Path, port: int, key: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(CONNECT_SIM), "serve", "--db", str(db), "--port", str(port), "--api-key", key],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=str(ROOT),
        start_new_session=True,
    )


@pytest.mark.skipif(not CONNECT_SIM.exists(), reason="connect-sim is not installed in .venv")
@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_kill_9_with_deliveries_pending_then_restart(tmp_path: Path, receiver: Receiver) -> None:
    db = tmp_path / "killed.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key = "mb_sk_sbx_kill_test_key"

    def call(method: str, path: str, body: Any = None, key_: str = key) -> requests.Response:
        hdrs = {"Authorization": f"Bearer {key_}"}
        return requests.request(method, base + path, json=body, headers=hdrs, timeout=30)

    proc = start_server(db, port, key)
    try:
        wait_healthy(base, proc)
        source = call("GET", "/connections?limit=1").json()["data"][0]["id"]
        # A manual-clock workspace: five deliveries held for 60 virtual seconds.
        manual = requests.post(base + "/_sim/workspaces", json={"clock": "manual"}, timeout=10)
        mkey = manual.json()["api_key"]

        def mcall(method: str, path: str, body: Any = None) -> requests.Response:
            return call(method, path, body, key_=mkey)

        wh_m = mcall("POST", "/webhooks", {"url": receiver.url + "/m", "events": ["*"]}).json()
        mcall("PUT", f"/_sim/webhooks/{wh_m['id']}/chaos", {"delay_seconds": 60})
        manual_ids = [fire_sync(mcall, source, f"pm{i}")["deliveries"][0]["id"] for i in range(5)]
        # The default workspace runs on the real clock: five deliveries due 2 s from now.
        wh_r = call("POST", "/webhooks", {"url": receiver.url + "/r", "events": ["*"]}).json()
        call("PUT", f"/_sim/webhooks/{wh_r['id']}/chaos", {"delay_seconds": 2})
        real_ids = [fire_sync(call, source, f"pr{i}")["deliveries"][0]["id"] for i in range(5)]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert receiver.requests == []

    time.sleep(2.5)  # the real-clock deliveries fall due while the server is down
    proc = start_server(db, port, key)
    try:
        wait_healthy(base, proc)
        got = receiver.wait_for(5)
        assert sorted(json.loads(r["body"])["id"] for r in got if r["path"] == "/r") == sorted(
            real_ids
        )
        ran = call("POST", "/_sim/clock/advance", {"seconds": 60}, key_=mkey)
        assert ran.status_code == 200
        got = receiver.wait_for(10)
        assert sorted(json.loads(r["body"])["id"] for r in got if r["path"] == "/m") == sorted(
            manual_ids
        )
        time.sleep(0.5)  # nothing more arrives: each was sent once
        assert len(receiver.requests) == 10
        for wh, k in ((wh_r, key), (wh_m, mkey)):
            recs = call("GET", f"/webhooks/{wh['id']}/events", key_=k).json()["data"]
            assert all(r["delivered_at"] is not None and r["attempts"] == 1 for r in recs)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)

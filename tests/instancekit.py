"""Several `connect-sim serve` instances on one PostgreSQL database, behind a load balancer.

The balancer (`RoundRobin`) sends each request to the next instance in turn, with
no stickiness: consecutive requests of one browser, one OAuth flow or one client
land on different instances. An instance that refuses the connection (killed) is
skipped, as a load balancer's health check would. Each cluster gets a fresh
schema of the database at $CONNECT_SIM_TEST_DB, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from test_foundation_restart import KEY, READY_TIMEOUT_S, free_port

from simulator.core.store_pg import create_schema, drop_schema
from simulator.testing import TEST_DB_ENV

SERVER_URL = os.environ.get(TEST_DB_ENV, "")

needs_postgres = pytest.mark.skipif(
    not SERVER_URL.startswith("postgres"),
    reason=f"needs PostgreSQL: set ${TEST_DB_ENV} (make test starts one and sets it)",
)

# How long the balancer waits for an instance (below the clients' 120 s, so a stuck request
# is reported with every instance's thread stacks, not only as the client's timeout).
UPSTREAM_TIMEOUT_S = 60
# Frames of threads that wait for work (the pool's workers, the main loop, the ticker between
# ticks): a thread with no other frame of ours is idle.
_IDLE = ("psycopg_pool/", "serving.py", "cli.py", "runtime.py")
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RoundRobin

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        headers["Host"] = self.headers.get("Host", "")
        status, out_headers, content = self.server.send(self.command, self.path, headers, body)
        self.send_response(status)
        for name, value in out_headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _forward

    def log_message(self, format: str, *args: Any) -> None:
        return None


class RoundRobin(ThreadingHTTPServer):
    """A load balancer: each request to the next live backend, in turn."""

    daemon_threads = True

    def __init__(self, backends: list[str], on_stall: Callable[[], str] = str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.backends = backends
        self.on_stall = on_stall  # what the instances are doing, when one does not answer
        self.served: Counter[str] = Counter()
        self._next = 0
        self._lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def start(self) -> RoundRobin:
        self._thread.start()
        return self

    def _pick(self) -> str:
        with self._lock:
            backend = self.backends[self._next % len(self.backends)]
            self._next += 1
            return backend

    def send(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        for _ in range(len(self.backends)):
            backend = self._pick()
            try:
                resp = requests.request(
                    method,
                    backend + path,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                    timeout=UPSTREAM_TIMEOUT_S,
                    stream=True,
                )
            except requests.Timeout:
                print(
                    f"{method} {path} on {backend}: no answer in {UPSTREAM_TIMEOUT_S} s; the"
                    f" instances' threads:\n{self.on_stall()}",
                    file=sys.stderr,
                )
                return 504, [("Content-Type", "text/plain")], b"the instance did not answer"
            except requests.ConnectionError:
                continue  # a dead instance: the next one answers
            content = resp.raw.read(decode_content=False)
            with self._lock:
                self.served[backend] += 1
            kept = [(k, v) for k, v in resp.raw.headers.items() if k.lower() not in _HOP]
            return resp.status_code, kept, content
        return 502, [("Content-Type", "text/plain")], b"no instance answered"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class Cluster:
    """`count` serve instances started at once on one fresh schema, behind a `RoundRobin`."""

    def __init__(self, tmp: Path, count: int = 3, threads: int = 8) -> None:
        self.schema = "inst_" + secrets.token_hex(5)
        self.url = create_schema(SERVER_URL, self.schema)
        self.ports = [free_port() for _ in range(count)]
        self.backends = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.lb = RoundRobin(self.backends, self.stacks).start()
        self.logs = [tmp / f"instance-{i}.log" for i in range(count)]
        self.procs: list[subprocess.Popen] = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for port, log in zip(self.ports, self.logs, strict=True):
            cmd = [
                sys.executable,
                *("-m", "simulator.cli", "serve", "--db", self.url, "--port", str(port)),
                *("--clock", "manual", "--api-key", KEY, "--base-url", self.lb.url),
                *("--threads", str(threads), "--quiet"),
            ]
            with log.open("wb") as out:
                self.procs.append(
                    subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
                )
        try:
            for i in range(count):
                self._wait_ready(i)
        except BaseException:
            self.close()
            raise

    def _wait_ready(self, i: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:  # real time by nature: the process has to start
            assert self.procs[i].poll() is None, self.logs[i].read_text()
            try:
                if requests.get(self.backends[i] + "/health", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "instance did not start:\n" + self.log(i)
            time.sleep(0.05)

    def log(self, i: int) -> str:
        return self.logs[i].read_text(errors="replace")

    def stacks(self) -> str:
        """Each live instance's threads that are in the simulator's or the driver's code (from
        SIGUSR1's dump), innermost frames first; idle server threads are left out."""
        sizes = [log.stat().st_size for log in self.logs]
        live = [i for i, proc in enumerate(self.procs) if proc.poll() is None]
        for i in live:
            self.procs[i].send_signal(signal.SIGUSR1)
        time.sleep(1)  # real time by nature: the dump is written by the other process
        out = []
        for i in live:
            with self.logs[i].open("rb") as f:
                f.seek(sizes[i])
                dump = f.read().decode(errors="replace")
            for block in dump.split("\n\n"):
                frames = [
                    line.strip()
                    for line in block.splitlines()
                    if any(part in line for part in ("/simulator/", "/portal_mocks/", "psycopg"))
                ]
                if any(not any(part in f for part in _IDLE) for f in frames):
                    out.append(
                        f"instance {i}, {block.splitlines()[0]}\n  " + "\n  ".join(frames[:12])
                    )
        return "\n".join(out) or "(no thread in the simulator's code)"

    def kill(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait(timeout=10)

    def db(self) -> psycopg.Connection:
        """A connection to the cluster's schema (autocommit), for checks the API cannot make."""
        return psycopg.connect(self.url, autocommit=True)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.lb.close()
        drop_schema(SERVER_URL, self.schema)


class Http:
    """A client of one base URL (the balancer or one instance) with a workspace's key."""

    def __init__(self, base: str, key: str = KEY) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {key}"

    def get(self, path: str, **params: Any) -> Any:
        resp = self.http.get(self.base + path, params=params, timeout=120)
        assert resp.ok, (path, resp.status_code, resp.text)
        return resp.json()

    def post(self, path: str, body: Any = None) -> Any:
        resp = self.http.post(self.base + path, json=body, timeout=120)
        assert resp.ok, (path, resp.status_code, resp.text)
        return resp.json()

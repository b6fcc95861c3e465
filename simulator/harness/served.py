"""`connect-sim serve` as a child process, and workspaces on a served simulator.

`SimServer` starts the server on a free port with its own SQLite file, waits for
`/health` and stops it with SIGTERM (then SIGKILL). `ServedSim` is one fresh
workspace on any served simulator; `mount_app` serves the app under test on a free
loopback port in a thread, so the simulator reaches it over real HTTP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from simulator.harness.client import ConnectSim

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SimServer:
    """A `connect-sim serve` child process on 127.0.0.1 (manual clock, quiet)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "connect-sim.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SimServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "simulator.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db",
            str(self.workdir / "sim.db"),
            "--clock",
            "manual",
            "--quiet",
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:  # real time by nature: the process has to start
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"connect-sim serve exited:\n{self.log()}")
            try:
                if requests.get(self.base_url + "/health", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"connect-sim serve did not answer /health:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM (running work drains), then SIGKILL if it is still there."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.proc = None


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any) -> None:  # no access line per request on stderr
        pass


class AppServer:
    """A WSGI app served on a free loopback port in a background thread."""

    def __init__(self, wsgi_app: Any) -> None:
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, wsgi_app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="connect-sim-app-server", daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=STOP_TIMEOUT_S)


class ServedSim(ConnectSim):
    """A fresh workspace (manual clock) on a served simulator; emptied when closed."""

    def __init__(self, base_url: str, seed: int = 1) -> None:
        base_url = base_url.rstrip("/")
        resp = requests.post(
            base_url + "/_sim/workspaces", json={"seed": seed, "clock": "manual"}, timeout=30
        )
        if resp.status_code != 200:
            raise RuntimeError(f"could not create a workspace at {base_url}: {resp.text[:500]}")
        created = resp.json()
        super().__init__(base_url, created["api_key"], created)
        self._apps: list[AppServer] = []

    def mount_app(self, wsgi_app: Any, name: str = "app") -> str:
        """Serve `wsgi_app` on a free loopback port; the simulator delivers to it over HTTP."""
        server = AppServer(wsgi_app)
        self._apps.append(server)
        return server.url

    def close(self) -> None:
        try:
            for server in self._apps:
                server.stop()
            self._apps.clear()
            self.reset()
        finally:
            super().close()

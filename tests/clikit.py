"""For the command-line tests against a served simulator: a CLI child process whose output
is read line by line, a local webhook receiver, and a connected patient over HTTP."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from test_foundation_restart import KEY, Client

EPIC = "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX"
RETURN_URL = "https://app.example/done"
WAIT_S = 60.0  # real time a child process gets to show a line (it polls a real server)


class Cli:
    """`connect-sim ARGS` as a child process; stdout and stderr read as lines."""

    def __init__(self, port: int, *args: str, key: str = KEY) -> None:
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "CONNECT_SIM_BASE_URL": f"http://127.0.0.1:{port}",
            "CONNECT_SIM_API_KEY": key,
            "COLUMNS": "200",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self.seen: list[tuple[str, str]] = []
        for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr)):
            threading.Thread(target=self._read, args=(name, stream), daemon=True).start()

    def _read(self, name: str, stream: Any) -> None:
        for line in stream:
            self.lines.put((name, line.rstrip("\n")))

    def wait_for(self, test: Callable[[str], bool], stream: str = "out") -> str:
        """The next line of `stream` that passes `test` (earlier lines are kept in `seen`)."""
        deadline = time.monotonic() + WAIT_S
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no such line; seen: {self.seen}"
            try:
                name, line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append((name, line))
            if name == stream and test(line):
                return line

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.finish()

    def finish(self) -> int:
        code = self.proc.wait(timeout=WAIT_S)
        time.sleep(0)  # let the reader threads drain what is left
        while True:
            try:
                self.seen.append(self.lines.get(timeout=1))
            except queue.Empty:
                return code

    def output(self, stream: str) -> list[str]:
        return [line for name, line in self.seen if name == stream]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Receiver:
    """A local webhook receiver: records each request; answers the statuses of `plan` in
    turn (the last one repeating)."""

    def __init__(self, plan: tuple[int, ...] = (200,)) -> None:
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
                    status = plan[min(len(receiver.requests), len(plan)) - 1]
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def connected_session(client: Client, patient_id: str = "p1") -> dict[str, Any]:
    """A Picker session connected at the Epic-like portal as alice and finished with Done;
    answers the session as the API shows it afterwards."""
    client.post("/patients", {"patient_id": patient_id})
    session = client.post("/patient-sessions", {"patient_id": patient_id, "return_url": RETURN_URL})
    client.post(
        f"/_sim/patient-sessions/{session['id']}/connect",
        {"source": EPIC, "username": "alice", "consent": "approve"},
    )
    client.post(f"/_sim/patient-sessions/{session['id']}/done")
    return client.get(f"/patient-sessions/{session['id']}")

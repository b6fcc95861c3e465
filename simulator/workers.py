"""`connect-sim serve --workers N`: N server processes on one port and one database.

One Python process runs one request at a time on the CPU (the interpreter lock), so
a single `serve` cannot use a second core however many threads it has. With
`--workers N` a supervisor starts N whole `serve` processes (each its own
runtime, connection pool and ticker) that listen on the same port with
`SO_REUSEPORT`: the kernel spreads new connections over them, and the database
(per-workspace locks every process honours, job leases and the wakeup index; on
PostgreSQL advisory locks, on a SQLite file `core/store_sqlite_shared.py`) makes
them one simulator, exactly as several instances behind a load balancer are.

The supervisor forwards SIGTERM and SIGINT (each worker drains its running work,
then closes), starts a new worker in place of one that dies (a kill -9: its claimed
jobs come back to the others as after any instance's death), stops when a worker
fails before it ever served (a bad database URL: another would fail too), and exits
once every worker has stopped. Each worker holds one end of a socket pair whose
other end the supervisor keeps: the worker says on it that it serves, and when the
supervisor dies the pair ends and the worker drains and exits.
"""

from __future__ import annotations

import logging
import select
import signal
import socket
import subprocess
import threading
from collections.abc import Callable

log = logging.getLogger("connect_sim.workers")

# How often the supervisor looks at its workers when none of them says anything.
POLL_S = 0.2


class ParentLink:
    """A worker's end of the socket pair its supervisor made for it: the worker says once
    that it serves, and learns that the supervisor died when the other end closes."""

    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)

    def ready(self) -> None:
        self._sock.sendall(b"r")

    def watch(self, stop: Callable[[], None]) -> None:
        """Call `stop` (in a thread of its own) when the supervisor's end closes."""

        def wait() -> None:
            try:
                while self._sock.recv(1):
                    pass
            except OSError:  # ended all the same
                pass
            stop()

        threading.Thread(target=wait, name="connect-sim-parent", daemon=True).start()


class _Worker:
    """One running worker: its process, the supervisor's end of its link, and whether it
    said it serves."""

    def __init__(self, proc: subprocess.Popen[bytes], link: socket.socket) -> None:
        self.proc = proc
        self.link = link
        self.ready = False


class Supervisor:
    """Starts `count` workers (`command(index, link_fd)` is each one's argv) and keeps
    them running until SIGTERM or SIGINT."""

    def __init__(
        self, command: Callable[[int, int], list[str]], count: int, env: dict[str, str]
    ) -> None:
        self.command = command
        self.count = count
        self.env = env
        self.workers: list[_Worker] = []
        self._stopping = threading.Event()

    def _start(self, index: int) -> _Worker:
        mine, theirs = socket.socketpair()
        with theirs:
            proc = subprocess.Popen(
                self.command(index, theirs.fileno()), pass_fds=(theirs.fileno(),), env=self.env
            )
        log.info("worker %d started (pid %d)", index, proc.pid)
        return _Worker(proc, mine)

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stopping.set()
        for worker in self.workers:
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)

    def run(self) -> int:
        """Serve until stopped; answers the exit status (a worker's, if one failed to start)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        self.workers = [self._start(index) for index in range(self.count)]
        status = 0
        while not self._stopping.is_set():
            readable, _, _ = select.select([w.link for w in self.workers], [], [], POLL_S)
            for worker in self.workers:
                if worker.link in readable and worker.link.recv(16):
                    worker.ready = True
            for index, worker in enumerate(self.workers):
                code = worker.proc.poll()
                if code is None or self._stopping.is_set():
                    continue
                worker.link.close()
                if not worker.ready and code > 0:  # it could not start: nor would another
                    log.error("worker %d exited with %d before serving; stopping", index, code)
                    status = code
                    self._on_signal(signal.SIGTERM, None)
                    break
                log.warning(
                    "worker %d (pid %d) exited with %d; starting another",
                    index,
                    worker.proc.pid,
                    code,
                )
                self.workers[index] = self._start(index)
        for worker in self.workers:
            worker.proc.wait()
            worker.link.close()
        return status

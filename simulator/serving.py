"""`connect-sim serve`'s server: waitress, with a shutdown that drains running work.

On SIGTERM (or SIGINT) the server stops accepting connections, stops the ticker
(letting a job it is running finish) and the background clock moves (each after its
current job; they are recorded as interrupted), waits for the requests already running to
answer (bounded by `drain_seconds`), closes the connections, and only then
closes the store. Work still running when the bound passes is left to the
database: its open transaction rolls back, as after a kill -9, and a restart
finds everything that committed. SIGUSR1 writes every thread's stack to stderr.
"""

from __future__ import annotations

import faulthandler
import logging
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from simulator.core.runtime import Runtime
from simulator.core.webkit import DROP_CONNECTION

log = logging.getLogger("connect_sim.serve")
access = logging.getLogger("connect_sim.access")

# A hosted link's token is the key to a patient's page: never written to a log.
_LINK = re.compile(r"^/c/[^/]+")


class AccessLog:
    """One line per request: client, method, path (no query; link tokens hidden),
    status and time. The query is left out because OAuth codes and states travel there."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable:
        started = time.perf_counter()
        status: list[str] = []

        def recording(code: str, headers: list, exc_info: Any = None) -> Any:
            status.append(code.split(" ", 1)[0])
            return start_response(code, headers, exc_info)

        try:
            return self.app(environ, recording)
        finally:
            path = _LINK.sub("/c/[link]", environ.get("PATH_INFO", ""))
            access.info(
                '%s "%s %s" %s %.1f ms',
                environ.get("REMOTE_ADDR", "-"),
                environ.get("REQUEST_METHOD", "-"),
                path,
                status[0] if status else "-",
                (time.perf_counter() - started) * 1000,
            )


class Drops:
    """Closes the connection of a call the app answered with no answer (a forced fault):
    nothing is written, the client sees the connection end (waitress closes a channel
    whose task raises `ClientDisconnected`, without a response)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable:
        def guarded(code: str, headers: list, exc_info: Any = None) -> Any:
            if environ.get(DROP_CONNECTION):
                return lambda data: None
            return start_response(code, headers, exc_info)

        result = self.app(environ, guarded)
        if environ.get(DROP_CONNECTION):
            close = getattr(result, "close", None)
            if close is not None:
                close()
            from waitress.channel import ClientDisconnected

            raise ClientDisconnected("connection dropped by a forced fault")
        return result


def shared_listener(host: str, port: int) -> socket.socket:
    """A listening socket on `port` that other processes may listen on too (`SO_REUSEPORT`):
    the kernel spreads new connections over the processes that listen."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


class Server:
    """One waitress server for one runtime, with a graceful stop."""

    def __init__(
        self,
        rt: Runtime,
        wsgi: Any,
        *,
        host: str,
        port: int,
        threads: int,
        drain_seconds: float = 30.0,
        ident: str = "connect-sim",
        quiet: bool = False,
        shared_port: bool = False,
    ) -> None:
        import waitress

        self.rt = rt
        self.drain_seconds = drain_seconds
        app = Drops(wsgi) if quiet else AccessLog(Drops(wsgi))
        if shared_port:  # one of several worker processes listening on the same port
            self.server = waitress.create_server(
                app, sockets=[shared_listener(host, port)], threads=threads, ident=ident
            )
        else:
            self.server = waitress.create_server(
                app, host=host, port=port, threads=threads, ident=ident
            )
        self._stopping = threading.Event()
        self.drained = True

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    def serve(self) -> None:
        """Serve until stopped by a signal; answers once everything is closed."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        # `kill -USR1 <pid>` writes every thread's stack to stderr (what a stuck request waits on).
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        try:
            self.server.run()
        finally:
            self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
            if self.drained:
                self.rt.close()
            else:
                log.warning(
                    "work still running after %.0f s; exiting without it", self.drain_seconds
                )

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stop()

    def stop(self) -> None:
        """What SIGTERM does: stop accepting, drain running work, then close (any thread)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        log.info("stopping: no new connections; draining running work")
        self.server.accepting = False
        # The signal may interrupt the loop's select(): close sockets from the loop itself.
        self.server.trigger.pull_trigger(self._stop_listening)
        threading.Thread(target=self._drain, name="connect-sim-drain", daemon=True).start()

    def _stop_listening(self) -> None:
        self.server.del_channel()
        self.server.socket.close()

    def _busy(self) -> bool:
        tasks = self.server.task_dispatcher
        if tasks.queue or tasks.active_count > 0:
            return True
        return any(
            getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0)
            for channel in list(self.server._map.values())
        )

    def _drain(self) -> None:
        deadline = time.monotonic() + self.drain_seconds
        settled = self.rt.stop_background(timeout=self.drain_seconds)
        while self._busy() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.drained = settled and not self._busy()
        self.server.trigger.pull_trigger(self._close_connections)

    def _close_connections(self) -> None:
        """Runs in the loop's thread: with no channel left, the loop and `serve` end."""
        for channel in list(self.server._map.values()):
            if channel is not self.server.trigger:
                channel.close()
        self.server.trigger.close()

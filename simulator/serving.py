"""`connect-sim serve`'s server: waitress, with a shutdown that drains running work.

On SIGTERM (or SIGINT) the server stops accepting connections, stops the ticker
(letting a job it is running finish), waits for the requests already running to
answer (bounded by `drain_seconds`), closes the connections, and only then
closes the store. Work still running when the bound passes is left to the
database: its open transaction rolls back, as after a kill -9, and a restart
finds everything that committed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from simulator.core.runtime import Runtime

log = logging.getLogger("connect_sim.serve")


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
    ) -> None:
        import waitress

        self.rt = rt
        self.drain_seconds = drain_seconds
        self.server = waitress.create_server(
            wsgi, host=host, port=port, threads=threads, ident=ident
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
        self.rt.stop_background()
        while self._busy() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.drained = not self._busy()
        self.server.trigger.pull_trigger(self._close_connections)

    def _close_connections(self) -> None:
        """Runs in the loop's thread: with no channel left, the loop and `serve` end."""
        for channel in list(self.server._map.values()):
            if channel is not self.server.trigger:
                channel.close()
        self.server.trigger.close()

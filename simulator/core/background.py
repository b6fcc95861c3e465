"""Work a runtime runs on threads of its own, outside the server's worker pool.

A long clock move asked for in the background (`"wait": false`) runs here, so it
takes no server worker while it runs. Each piece of work has a name, a function and
a way to ask it to stop; `stop` (the server's drain, `Runtime.close`) asks every
piece to stop and waits for them, bounded, and nothing new starts afterwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

SHUTDOWN = "shutdown"  # the reason `stop` gives: the process is stopping


class Background:
    """The named background threads of one runtime."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._running: dict[str, tuple[threading.Thread, Callable[[str], None]]] = {}
        self._closed = False

    def start(self, name: str, work: Callable[[], None], stop: Callable[[str], None]) -> bool:
        """Run `work` on a new thread; `stop(reason)` asks it to end early (`reason` is what
        `request_stop` was given, or `SHUTDOWN`). Answers False (and runs nothing) once the
        runtime is stopping, or when `name` is already running."""

        def run() -> None:
            try:
                work()
            except Exception:  # the work records its own outcome; never kill silently
                log.exception("background work %s failed", name)
            finally:
                with self._guard:
                    self._running.pop(name, None)

        with self._guard:
            if self._closed or name in self._running:
                return False
            thread = threading.Thread(target=run, name=f"connect-sim-{name}", daemon=True)
            self._running[name] = (thread, stop)
            thread.start()
        return True

    def is_running(self, name: str) -> bool:
        with self._guard:
            return name in self._running

    def request_stop(self, name: str, reason: str) -> bool:
        """Ask the work `name` to stop, for `reason`; answers whether it was running."""
        with self._guard:
            entry = self._running.get(name)
        if entry is None:
            return False
        entry[1](reason)
        return True

    def join(self, name: str, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) for `name` to end; answers whether it has."""
        with self._guard:
            entry = self._running.get(name)
        if entry is None:
            return True
        entry[0].join(timeout)
        return not entry[0].is_alive()

    def stop(self, timeout: float) -> bool:
        """Start nothing new, ask everything running to stop, wait at most `timeout` seconds.

        Answers whether everything ended in time."""
        with self._guard:  # once `start` refuses, every running piece has been asked
            self._closed = True
            entries = list(self._running.values())
            for _, stop in entries:
                stop(SHUTDOWN)
        deadline = time.monotonic() + timeout
        for thread, _ in entries:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread, _ in entries)

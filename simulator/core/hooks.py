"""Domain signals: what happened, and who must hear of it, wired on one runtime.

A domain module that must tell others without importing them names a signal
(`attempts.ACTIVATED`, …) and fires it; the composition root subscribes the
listeners, in one readable table. Subscribers belong to one `Hooks` instance
(one per runtime), so two runtimes in one process never share them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Subscriber = Callable[..., None]


class Hooks:
    def __init__(self) -> None:
        self._subscribers: dict[str, tuple[Subscriber, ...]] = {}

    def subscribe(self, signal: str, subscriber: Subscriber) -> None:
        """Call `subscriber` (after those already subscribed) each time `signal` fires."""
        self._subscribers[signal] = (*self._subscribers.get(signal, ()), subscriber)

    def subscribers(self, signal: str) -> tuple[Subscriber, ...]:
        return self._subscribers.get(signal, ())

    def fire(self, signal: str, *args: Any) -> None:
        """Call every subscriber of `signal` in order, in the caller's transaction."""
        for subscriber in self._subscribers.get(signal, ()):
            subscriber(*args)

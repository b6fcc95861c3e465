"""Facts that never change once stored, remembered by one process (bounded).

A fact kept here must be immutable in the database for as long as anything can ask for
it (a registered client's credentials: written once, deleted only with everything that
refers to them), so several instances on one database may each remember it. A fact
that a workspace reset deletes while outsiders can still name it (a portal's client
registration) is remembered only by a process alone on its database, and a reset
empties the memo. The memo forgets everything at once when it is full, so a process
with many workspaces holds a bounded amount.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

# The most facts one runtime remembers before it starts again.
MEMO_MAX = 10_000


class Memo:
    """A bounded map from a fact's key (a tuple naming its kind first) to its value."""

    def __init__(self, limit: int = MEMO_MAX) -> None:
        self._limit = limit
        self._facts: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        """The remembered value, or None."""
        return self._facts.get(key)

    def keep(self, key: Hashable, value: Any) -> None:
        with self._lock:
            if len(self._facts) >= self._limit:
                self._facts.clear()
            self._facts[key] = value

    def clear(self) -> None:
        """Forget everything (a workspace reset deleted facts it held)."""
        with self._lock:
            self._facts.clear()

    def __len__(self) -> int:
        return len(self._facts)

"""Virtual clocks, one per workspace.

Mode `manual`: frozen at a stored instant, moved only when told. Mode `real`:
wall time plus a stored offset. Nothing in the simulator reads wall time except
through here (and `timeutil.wall_ms`, which this wraps).
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.core.store import Store
from simulator.core.timeutil import wall_ms as _wall_ms


class ClockError(ValueError):
    """A clock move that is not allowed (backwards, unknown mode)."""


class Clocks:
    def __init__(self, store: Store, wall: Callable[[], int] = _wall_ms) -> None:
        self.store = store
        self.wall = wall

    def _row(self, ws_id: str):
        row = self.store.one(
            "SELECT clock_mode, clock_manual_ms, clock_offset_ms FROM workspaces WHERE id = ?",
            (ws_id,),
        )
        if row is None:
            raise KeyError(ws_id)
        return row

    def now(self, ws_id: str) -> int:
        row = self._row(ws_id)
        if row["clock_mode"] == "manual":
            return int(row["clock_manual_ms"])
        return self.wall() + int(row["clock_offset_ms"])

    def mode(self, ws_id: str) -> str:
        return str(self._row(ws_id)["clock_mode"])

    def move_to(self, ws_id: str, target_ms: int) -> int:
        """Move the clock forward to `target_ms` (a no-op when already past it)."""
        with self.store.tx():
            current = self.now(ws_id)
            if target_ms <= current:
                return current
            if self.mode(ws_id) == "manual":
                self.store.execute(
                    "UPDATE workspaces SET clock_manual_ms = ? WHERE id = ?", (target_ms, ws_id)
                )
            else:
                self.store.execute(
                    "UPDATE workspaces SET clock_offset_ms = ? WHERE id = ?",
                    (target_ms - self.wall(), ws_id),
                )
            return target_ms

    def set_mode(self, ws_id: str, mode: str) -> int:
        """Switch mode without a jump: the clock continues from its current instant."""
        if mode not in ("real", "manual"):
            raise ClockError(f"Unknown clock mode '{mode}'; use 'real' or 'manual'")
        with self.store.tx():
            current = self.now(ws_id)
            if mode == "manual":
                self.store.execute(
                    "UPDATE workspaces SET clock_mode = 'manual', clock_manual_ms = ? WHERE id = ?",
                    (current, ws_id),
                )
            else:
                self.store.execute(
                    "UPDATE workspaces SET clock_mode = 'real', clock_offset_ms = ? WHERE id = ?",
                    (current - self.wall(), ws_id),
                )
            return current

"""Virtual clocks, one per workspace.

Mode `manual`: frozen at a stored instant, moved only when told. Mode `real`:
wall time plus a stored offset. Nothing in the simulator reads wall time except
through here (and `timeutil.wall_ms`, which this wraps).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from simulator.core.store import Store
from simulator.core.timeutil import wall_ms as _wall_ms

# The most workspaces whose stored clock `Clocks` remembers before it starts again.
KNOWN_MAX = 4096


class ClockError(ValueError):
    """A clock move that is not allowed (backwards, unknown mode)."""


class Clocks:
    """The workspaces' clocks, read from and written to the workspaces table.

    While a job runs on a manual clock, the scheduler pins that workspace's
    instant for the running thread (`pinned`): every `now` the job asks for is
    then answered without a query, and a move made meanwhile moves the pin too.
    A Connect API or control-plane request on a manual clock is pinned the same
    way, from the workspace row its API key was looked up with (`pin`/`unpin`).
    """

    def __init__(self, store: Store, wall: Callable[[], int] = _wall_ms) -> None:
        self.store = store
        self.wall = wall
        self._local = threading.local()
        # Counts clock moves made by this process (any workspace, any thread); a pin taken
        # at count n is stale only if a move came after it, or another process may move
        # clocks too (a shared store).
        self._moves = itertools.count()
        self._moved = 0
        # What this thread last read of each workspace's stored clock (`_known`: generation,
        # the store's rollbacks, mode, manual instant, offset), until its request ends
        # (`read_again`). Anything here that changes a stored clock (a move that moved it, a
        # mode switch, a reset) takes a new generation, so what any thread read before it
        # is read again; so does a rollback (what was read inside the transaction may be
        # gone). On a store other processes share, another one may move a clock at any
        # time: what was read is kept only within a request (`request_began`), as a manual
        # clock's pin is, and read again when the thread takes the workspace's lock.
        self._generations = itertools.count(1)
        self._generation = 0

    def _pins(self) -> dict[str, int]:
        pins = getattr(self._local, "pins", None)
        if pins is None:
            pins = self._local.pins = {}
        return pins

    def _row(self, ws_id: str):
        row = self.store.one(
            "SELECT clock_mode, clock_manual_ms, clock_offset_ms FROM workspaces WHERE id = ?",
            (ws_id,),
        )
        if row is None:
            raise KeyError(ws_id)
        return row

    @staticmethod
    def _instant(mode: str, manual_ms: int, offset_ms: int, wall_ms: int) -> int:
        """A stored clock's instant at wall instant `wall_ms`."""
        return manual_ms if mode == "manual" else wall_ms + offset_ms

    @staticmethod
    def _clock_of(row: Any) -> tuple[str, int, int]:
        """A workspace row's clock: mode, manual instant, offset."""
        return str(row["clock_mode"]), int(row["clock_manual_ms"]), int(row["clock_offset_ms"])

    def now(self, ws_id: str) -> int:
        pinned = self._pins().get(ws_id)
        if pinned is not None:
            return pinned
        return self._instant(*self._stored(ws_id), self.wall())

    def mode(self, ws_id: str) -> str:
        return self._stored(ws_id)[0]

    def _stored(self, ws_id: str) -> tuple[str, int, int]:
        """The workspace's stored clock: mode, manual instant, offset (a real clock's
        instant is the wall's plus its offset, so it is read once, not at every `now`)."""
        known_clocks = self._known()
        known = known_clocks.get(ws_id)
        stamp = self._stamp()
        if known is not None and known[:2] == stamp:
            return known[2], known[3], known[4]
        clock = self._clock_of(self._row(ws_id))
        if not self.store.shared or getattr(self._local, "requests", 0) > 0:
            if len(known_clocks) >= KNOWN_MAX:
                known_clocks.clear()
            known_clocks[ws_id] = (*stamp, *clock)
        return clock

    def _stamp(self) -> tuple[int, int]:
        """What a kept read is valid for: this generation, and no rollback since."""
        return self._generation, self.store.rollbacks

    def _known(self) -> dict[str, tuple[int, int, str, int, int]]:
        known = getattr(self._local, "known", None)
        if known is None:
            known = self._local.known = {}
        return known

    def read_again(self) -> None:
        """What this thread read of the stored clocks is read afresh from now on (at the
        end of a request: each request reads a clock it needs once)."""
        known = getattr(self._local, "known", None)
        if known:
            known.clear()

    def request_began(self) -> None:
        """This thread serves a request until `request_ended` (requests nest: a page the
        request calls in process is one too). On a shared store, only a request keeps
        what it read of a clock."""
        self._local.requests = getattr(self._local, "requests", 0) + 1

    def request_ended(self) -> None:
        self._local.requests = max(0, getattr(self._local, "requests", 0) - 1)
        self.read_again()

    def _changed(self, ws_id: str, clock: tuple[str, int, int] | None = None) -> None:
        """A stored clock was written here: what any thread read of the clocks is read
        again, unless `clock`, what it holds now, is what this thread knew of it."""
        known = self._known().get(ws_id)
        if clock is None or known is None or known[:2] != self._stamp() or known[2:] != clock:
            self._generation = next(self._generations)

    @contextmanager
    def pinned(self, ws_id: str, now_ms: int) -> Iterator[None]:
        """Answer `now(ws_id)` with `now_ms` in this thread (a manual clock, during one job)."""
        pins = self._pins()
        previous = pins.get(ws_id)
        pins[ws_id] = now_ms
        try:
            yield
        finally:
            if previous is None:
                pins.pop(ws_id, None)
            else:
                pins[ws_id] = previous

    def pin(self, ws_id: str, now_ms: int) -> int | None:
        """Answer `now(ws_id)` with `now_ms` in this thread until `unpin`; answers what to
        hand `unpin` (the pin this one covers)."""
        pins = self._pins()
        previous = pins.get(ws_id)
        pins[ws_id] = now_ms
        self._pinned_at()[ws_id] = self._moved
        return previous

    def unpin(self, ws_id: str, previous: int | None) -> None:
        pins = self._pins()
        if previous is None:
            pins.pop(ws_id, None)
            self._pinned_at().pop(ws_id, None)
        else:
            pins[ws_id] = previous

    def is_pinned(self, ws_id: str) -> bool:
        return ws_id in self._pins()

    def _pinned_at(self) -> dict[str, int]:
        at = getattr(self._local, "pinned_at", None)
        if at is None:
            at = self._local.pinned_at = {}
        return at

    def reread(self, ws_id: str) -> None:
        """Take this thread's pin of the workspace afresh from the stored clock.

        A request is pinned when its API key is looked up; by the time it holds the
        workspace's lock, another thread or instance may have moved the clock. With no
        move made since the pin (and no other process on the store), it still holds. On a
        shared store, what the thread read of the stored clock is read again too."""
        if self.store.shared:
            self._known().pop(ws_id, None)
        pins = self._pins()
        if ws_id not in pins:
            return
        at = self._pinned_at()
        if not self.store.shared and at.get(ws_id) == self._moved:
            return
        at[ws_id] = self._moved
        row = self._row(ws_id)
        if row["clock_mode"] == "manual":
            pins[ws_id] = int(row["clock_manual_ms"])
        else:
            pins.pop(ws_id, None)

    def forget(self, ws_id: str) -> None:
        """Drop this thread's pin (the stored clock was set outside `move_to`)."""
        self._moved = next(self._moves) + 1
        self._changed(ws_id)
        self._pins().pop(ws_id, None)

    # The move is one UPDATE of the workspace row: the comparison with the current instant is
    # made by the statement itself (`move_set`); it answers the `MOVE_RETURNING` columns.
    MOVE_RETURNING = "clock_mode, clock_manual_ms, clock_offset_ms"

    @staticmethod
    def move_set(target: str = "?", wall: str = "?") -> str:
        """The SET clause of a move to `target` at wall instant `wall` (SQL expressions:
        parameters by default; the jobs runner on PostgreSQL moves to a claimed job's
        due time inside its claim)."""
        return (
            f"clock_manual_ms = CASE WHEN clock_mode = 'manual' AND clock_manual_ms < {target}"
            f" THEN {target} ELSE clock_manual_ms END,"
            f" clock_offset_ms = CASE WHEN clock_mode <> 'manual' AND {wall} + clock_offset_ms"
            f" < {target} THEN {target} - {wall} ELSE clock_offset_ms END"
        )

    def move_to(self, ws_id: str, target_ms: int) -> tuple[str, int]:
        """Move the clock forward to `target_ms` (a no-op when already past it).

        Answers the clock's mode and its instant after the move. One statement.
        """
        wall = self.wall()
        row = self.store.one(
            f"UPDATE workspaces SET {_MOVE_SET} WHERE id = ? RETURNING {self.MOVE_RETURNING}",
            (target_ms, target_ms, wall, target_ms, target_ms, wall, ws_id),
        )
        if row is None:
            raise KeyError(ws_id)
        return self.moved(ws_id, target_ms, wall, row)

    def moved(self, ws_id: str, target_ms: int, wall: int, row: Any) -> tuple[str, int]:
        """After the move's UPDATE (`row` has the `MOVE_RETURNING` columns): the clock's
        mode and instant, and this thread's pin moved with it."""
        self._moved = next(self._moves) + 1
        clock = self._clock_of(row)
        self._changed(ws_id, clock)
        mode, current = clock[0], self._instant(*clock, wall)
        pins = self._pins()
        if ws_id in pins and current == target_ms:
            pins[ws_id] = target_ms
        return mode, current

    def set_mode(self, ws_id: str, mode: str) -> int:
        """Switch mode without a jump: the clock continues from its current instant."""
        if mode not in ("real", "manual"):
            raise ClockError(f"Unknown clock mode '{mode}'; use 'real' or 'manual'")
        self._moved = next(self._moves) + 1
        with self.store.tx():
            current = self._instant(*self._clock_of(self._row(ws_id)), self.wall())
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
        self._changed(ws_id)
        self._pins().pop(ws_id, None)
        return current


_MOVE_SET = Clocks.move_set()

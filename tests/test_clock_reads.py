"""A thread reads a workspace's stored clock once per request; whatever changes it is seen.

A real clock is the wall's time plus a stored offset: the offset is read once and the
wall at every `now`. A move, a mode switch or a reset made in this process is seen by
every thread at its next `now`; a read made inside a rolled-back transaction is not
kept; on a store that other processes share, a read is kept only within a request and
until the thread takes the workspace's lock.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from simulator.core import workspaces
from simulator.core.clock import Clocks
from simulator.core.store import SqliteStore
from simulator.core.store_sqlite_shared import SharedSqliteStore
from simulator.testing import Sim

CLOCK_READ = "SELECT clock_mode, clock_manual_ms, clock_offset_ms FROM workspaces"
WALL = 1_800_000_000_000


class Wall:
    """A wall clock that moves only when told."""

    def __init__(self) -> None:
        self.ms = WALL

    def __call__(self) -> int:
        return self.ms


def _reads(store, call) -> tuple[object, int]:
    seen: list[str] = []
    store.trace(seen.append)
    try:
        result = call()
    finally:
        store.trace(None)
    return result, sum(s.startswith(CLOCK_READ) for s in seen)


def _clocks(store, mode: str = "real") -> tuple[Clocks, Wall, str]:
    wall = Wall()
    ws, _ = workspaces.create(store, wall_ms=WALL, clock_mode=mode)
    return Clocks(store, wall), wall, ws.id


@pytest.fixture
def store():
    store = SqliteStore(":memory:", [workspaces.SCHEMA])
    yield store
    store.close()


def test_a_real_clock_reads_its_offset_once_and_the_wall_at_every_now(store) -> None:
    clocks, wall, ws = _clocks(store)
    clocks.move_to(ws, WALL + 60_000)  # the offset is now 60 s

    def three_nows() -> list[int]:
        seen = [clocks.now(ws)]
        wall.ms += 1_000
        seen.append(clocks.now(ws))
        wall.ms += 1_000
        seen.append(clocks.now(ws))
        return seen

    nows, reads = _reads(store, three_nows)
    assert nows == [WALL + 60_000, WALL + 61_000, WALL + 62_000]
    assert reads == 1
    clocks.read_again()  # a request ended: the next one reads it again
    assert _reads(store, lambda: clocks.now(ws)) == (WALL + 62_000, 1)


def test_a_move_made_by_another_thread_is_seen_at_the_next_now(store) -> None:
    clocks, wall, ws = _clocks(store)
    assert clocks.now(ws) == WALL  # read and kept by this thread
    mover = threading.Thread(target=clocks.move_to, args=(ws, WALL + 3_600_000))
    mover.start()
    mover.join()
    assert clocks.now(ws) == WALL + 3_600_000


def test_a_mode_switch_and_a_reset_are_seen_at_the_next_now(store) -> None:
    clocks, wall, ws = _clocks(store)
    clocks.move_to(ws, WALL + 5_000)
    assert clocks.now(ws) == WALL + 5_000
    clocks.set_mode(ws, "manual")
    wall.ms += 10_000
    assert (clocks.mode(ws), clocks.now(ws)) == ("manual", WALL + 5_000)
    clocks.set_mode(ws, "real")
    assert (clocks.mode(ws), clocks.now(ws)) == ("real", WALL + 5_000)
    workspaces.reset(store, ws, wall_ms=wall.ms)  # the offset goes back to 0
    clocks.forget(ws)
    assert clocks.now(ws) == wall.ms


def test_a_clock_read_inside_a_transaction_that_rolls_back_is_not_kept(store) -> None:
    clocks, wall, ws = _clocks(store)
    with pytest.raises(RuntimeError):
        with store.tx():
            store.execute("UPDATE workspaces SET clock_offset_ms = 99000 WHERE id = ?", (ws,))
            assert clocks.now(ws) == WALL + 99_000  # this transaction's own write
            raise RuntimeError("rolled back")
    assert clocks.now(ws) == WALL  # what is stored, not what the rolled-back read saw


def test_a_move_that_changes_nothing_keeps_what_was_read(store) -> None:
    clocks, wall, ws = _clocks(store)
    clocks.move_to(ws, WALL + 60_000)
    assert clocks.now(ws) == WALL + 60_000
    # a move to an instant already past changes no column: nothing to read again
    _, reads = _reads(store, lambda: (clocks.move_to(ws, WALL), clocks.now(ws)))
    assert reads == 0
    # a move that changes the offset: read again
    _, reads = _reads(store, lambda: (clocks.move_to(ws, WALL + 120_000), clocks.now(ws)))
    assert reads == 1 and clocks.now(ws) == WALL + 120_000


def test_a_store_shared_with_other_processes_is_read_at_every_now(tmp_path: Path) -> None:
    store = SharedSqliteStore(str(tmp_path / "sim.db"), [workspaces.SCHEMA])
    try:
        clocks, wall, ws = _clocks(store)
        _, reads = _reads(store, lambda: [clocks.now(ws) for _ in range(3)])
        assert reads == 3
    finally:
        store.close()


def test_on_a_shared_store_a_request_keeps_its_read_until_it_takes_the_lock(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "sim.db")
    store = SharedSqliteStore(path, [workspaces.SCHEMA])
    other = SharedSqliteStore(path, [workspaces.SCHEMA])  # another instance on the file
    try:
        clocks, wall, ws = _clocks(store)
        elsewhere = Clocks(other, wall)
        clocks.request_began()
        _, reads = _reads(store, lambda: [clocks.now(ws) for _ in range(3)])
        assert reads == 1
        elsewhere.move_to(ws, WALL + 60_000)
        assert clocks.now(ws) == WALL  # the request goes on with what it read
        clocks.reread(ws)  # as the workspace's lock does when the thread takes it
        assert clocks.now(ws) == WALL + 60_000
        clocks.request_ended()
        elsewhere.move_to(ws, WALL + 120_000)
        assert clocks.now(ws) == WALL + 120_000  # outside a request: read at every now
        assert _reads(store, lambda: clocks.now(ws))[1] == 1
    finally:
        other.close()
        store.close()


def test_a_request_on_a_real_clock_reads_it_once(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=1, clock="real")
    api.post("/patients", {"patient_id": "p0"})

    def new_session():
        return api.post(
            "/patient-sessions",
            {"patient_id": "p1", "return_url": "https://app.example/r", "expires_in": 600},
        )

    resp, reads = _reads(sim.runtime.store, new_session)
    assert resp.status_code == 200
    assert reads == 1  # on PostgreSQL too: within a request

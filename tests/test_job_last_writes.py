"""A job's last writes (`Scheduler.finish_with`) commit in the transaction that ends it."""

from __future__ import annotations

import pytest
from flowkit import CERNER, active_connection, statements

from simulator.testing import Api, Sim

KIND = "test.last_writes"
TABLE = "CREATE TABLE IF NOT EXISTS test_marks (n BIGINT NOT NULL, at_ms BIGINT NOT NULL)"


@pytest.fixture
def marks(sim: Sim) -> tuple[Api, str]:
    sim.runtime.store.execute(TABLE)
    api, created = sim.new_workspace(seed=1, clock="manual")
    return api, created["id"]


def _rows(sim: Sim) -> list[tuple[int, int]]:
    rows = sim.runtime.store.all("SELECT n, at_ms FROM test_marks ORDER BY n")
    return [(int(r[0]), int(r[1])) for r in rows]


def _ends_a_job(sql: str) -> bool:
    """The statement that writes a job's success (on PostgreSQL, with the next claim)."""
    return "SET state = 'done'" in sql or sql.startswith("WITH done AS")


def _job_states(sim: Sim, ws_id: str) -> list[tuple[str, str | None]]:
    rows = sim.runtime.store.all(
        "SELECT state, error FROM jobs WHERE workspace_id = ? AND kind = ? ORDER BY id",
        (ws_id, KIND),
    )
    return [(r[0], r[1]) for r in rows]


def _register(sim: Sim, failing: set[int] = frozenset()) -> list[int]:
    rt = sim.runtime
    ran: list[int] = []

    def handler(rt_, job) -> None:
        n = job.payload["n"]
        ran.append(n)
        ws = job.workspace_id

        def write() -> None:
            rt.store.execute("INSERT INTO test_marks (n, at_ms) VALUES (?, ?)", (n, rt.now(ws)))
            if n in failing:
                raise RuntimeError(f"mark {n} cannot be written")

        rt.scheduler.finish_with(write)

    rt.scheduler.register(KIND, handler)
    return ran


def test_the_last_writes_are_made_at_the_jobs_instant_with_its_end(sim: Sim, marks) -> None:
    api, ws_id = marks
    ran = _register(sim)
    now = sim.runtime.now(ws_id)
    for n, after in ((1, 1000), (2, 2000)):
        sim.runtime.scheduler.schedule(ws_id, KIND, now + after, {"n": n})
    with statements(sim) as seen:
        assert api.advance(5)["jobs_run"] == 2
    assert ran == [1, 2]
    assert _rows(sim) == [(1, now + 1000), (2, now + 2000)]  # each at its own due time
    assert _job_states(sim, ws_id) == [("done", None), ("done", None)]
    if "BEGIN IMMEDIATE" in seen:  # SQLite shows its transactions: one per job, not two
        for n in (1, 2):
            at = next(i for i, sql in enumerate(seen) if f"VALUES ({n}," in sql)
            end = next(i for i in range(at, len(seen)) if _ends_a_job(seen[i]))
            begin = max(i for i in range(at) if seen[i] == "BEGIN IMMEDIATE")
            assert "COMMIT" not in seen[begin:end], seen[begin : end + 1]


def test_a_job_whose_last_writes_fail_failed_and_kept_none_of_them(sim: Sim, marks) -> None:
    api, ws_id = marks
    ran = _register(sim, failing={1})
    now = sim.runtime.now(ws_id)
    for n, after in ((1, 1000), (2, 2000), (3, 9000)):
        sim.runtime.scheduler.schedule(ws_id, KIND, now + after, {"n": n})
    assert api.advance(5)["jobs_run"] == 2
    assert ran == [1, 2]
    assert _rows(sim) == [(2, now + 2000)]  # the failed job's row is not kept
    (first, second, third) = _job_states(sim, ws_id)
    assert first == ("failed", "RuntimeError: mark 1 cannot be written")
    assert second == ("done", None) and third == ("pending", None)
    assert api.advance(5)["jobs_run"] == 1
    assert _rows(sim) == [(2, now + 2000), (3, now + 9000)]


def test_the_last_job_of_a_move_writes_its_last_writes_when_the_move_ends(sim: Sim, marks):
    api, ws_id = marks
    _register(sim, failing={2})
    now = sim.runtime.now(ws_id)
    sim.runtime.scheduler.schedule(ws_id, KIND, now + 1000, {"n": 1})
    assert api.advance(2)["jobs_run"] == 1
    assert _rows(sim) == [(1, now + 1000)] and _job_states(sim, ws_id) == [("done", None)]
    sim.runtime.scheduler.schedule(ws_id, KIND, now + 3000, {"n": 2})
    assert api.advance(2)["jobs_run"] == 1
    assert _rows(sim) == [(1, now + 1000)]
    assert _job_states(sim, ws_id)[1] == ("failed", "RuntimeError: mark 2 cannot be written")


def test_last_writes_asked_for_outside_a_job_are_made_at_once(sim: Sim, marks) -> None:
    sim.runtime.scheduler.finish_with(
        lambda: sim.runtime.store.execute("INSERT INTO test_marks (n, at_ms) VALUES (7, 0)")
    )
    assert _rows(sim) == [(7, 0)]


def test_a_refresh_job_writes_its_tokens_in_the_transaction_that_ends_it(
    sim: Sim, api: Api
) -> None:
    active_connection(api, source=CERNER)
    api.advance(60)  # the first pull settles
    ws_id = api.get("/_sim/workspace").json["id"]
    before = sim.runtime.store.scalar(
        "SELECT refresh_count FROM connection_tokens WHERE workspace_id = ?", (ws_id,)
    )
    with statements(sim) as seen:
        assert api.advance(285)["jobs_run"] == 1  # one refresh (Cerner: every 285 s)
    after = sim.runtime.store.scalar(
        "SELECT refresh_count FROM connection_tokens WHERE workspace_id = ?", (ws_id,)
    )
    assert after == before + 1
    stored = next(i for i, sql in enumerate(seen) if sql.startswith("UPDATE connection_tokens"))
    end = next(i for i in range(stored, len(seen)) if _ends_a_job(seen[i]))
    assert "COMMIT" not in seen[stored:end]
    if "BEGIN IMMEDIATE" in seen:
        # the claim; the portal's write; the tokens, the end and the next claim; the wakeup
        assert seen.count("BEGIN IMMEDIATE") == 4

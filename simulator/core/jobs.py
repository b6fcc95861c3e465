"""Timed work: jobs stored with a due time, run in due-time order on the virtual clock.

Advancing a workspace's clock runs every job that falls due on the way, in
(due time, insertion) order, moving the clock to each job's due time before it
runs, so each job sees `now` equal to its due time. Handlers manage their own
transactions and must not hold one across outbound HTTP.

A job left pending by a crash is run again on the next advance or tick:
at-least-once, like the service it simulates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from statemachine import State, StateMachine

from simulator.core.clock import ClockError, Clocks
from simulator.core.lifecycle import edge
from simulator.core.store import Store, dumps, loads

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    due_ms INTEGER NOT NULL,
    payload TEXT NOT NULL,
    key TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    created_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    error TEXT
);
DROP INDEX IF EXISTS jobs_pending;
DROP INDEX IF EXISTS jobs_key;
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (workspace_id, due_ms, id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS jobs_pending_key ON jobs (workspace_id, key) WHERE state = 'pending';
"""
# Only pending jobs are indexed (partial indexes), so finished jobs, however many, are never
# walked by the runner, by cancel or by the ticker. A query uses those indexes only when its
# WHERE names the state as the literal 'pending' (`PENDING_SQL`), never as a bound parameter.

# A safety net against a handler that keeps scheduling itself at the same instant.
MAX_JOBS_PER_RUN = 5_000_000


class JobLifecycle(StateMachine):
    """A stored job: pending -> running -> done | failed, or pending -> cancelled.

    A job caught running by a crash is pending again (`recover`): at-least-once.
    """

    pending = State(initial=True)
    running = State()
    done = State(final=True)
    failed = State(final=True)
    cancelled = State(final=True)

    claim = pending.to(running)
    finish = running.to(done)
    fail = running.to(failed)
    cancel = pending.to(cancelled)
    recover = running.to(pending)


# The runner applies these edges in SQL, many times a second: read from the machine once.
_INITIAL = JobLifecycle.initial_state.value
PENDING_SQL = f"state = '{_INITIAL}'"
_CLAIM = edge(JobLifecycle, "claim")
_FINISH = edge(JobLifecycle, "finish")
_FAIL = edge(JobLifecycle, "fail")
_CANCEL = edge(JobLifecycle, "cancel")
_RECOVER = edge(JobLifecycle, "recover")


# The next due job of a workspace, claimed as running, in one statement (the subquery walks
# the partial index `jobs_due`).
_TAKE_NEXT_SQL = (
    "UPDATE jobs SET state = ? WHERE id = (SELECT id FROM jobs WHERE workspace_id = ? AND "
    + PENDING_SQL
    + " AND due_ms <= ? ORDER BY due_ms, id LIMIT 1) AND "
    + _CLAIM.where("state")
    + " RETURNING *"
)


@dataclass(frozen=True)
class Job:
    id: int
    workspace_id: str
    kind: str
    due_ms: int
    payload: dict[str, Any]
    key: str | None


# Called with (the runtime that owns the scheduler, the job).
Handler = Callable[[Any, Job], None]

# Called by a clock move after each job it ran, with (jobs run so far, that job's due time).
# It may raise `MoveCancelled` to stop the move there (the clock stays at that job).
Progress = Callable[[int, int], None]


def _job(row) -> Job:
    return Job(
        id=row["id"],
        workspace_id=row["workspace_id"],
        kind=row["kind"],
        due_ms=row["due_ms"],
        payload=loads(row["payload"], {}),
        key=row["key"],
    )


class MoveCancelled(Exception):  # noqa: N818 - a stop asked for, not an error
    """A clock move stopped on request after `ran` jobs (the clock is at the last one)."""

    def __init__(self, ran: int) -> None:
        super().__init__(f"cancelled after {ran} jobs")
        self.ran = ran


class Scheduler:
    def __init__(self, store: Store, clocks: Clocks, owner: Any) -> None:
        self.store = store
        self.clocks = clocks
        self.owner = owner  # what handlers are called with (the runtime)
        self.handlers: dict[str, Handler] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        # What this process knows without a query: nothing pending of workspace w was due
        # by `_quiet[w]` when a run last found nothing more to do. Scheduling a job due by
        # then forgets it; `_scheduled[w]` counts schedulings, so a run that raced one
        # does not record a quiet it cannot vouch for.
        self._quiet: dict[str, int] = {}
        self._scheduled: dict[str, int] = {}
        # Workspaces with a clock move running (advance, set, run-until-idle), and those
        # whose move was asked to stop after its current job.
        self._moving: set[str] = set()
        self._stop: set[str] = set()

    def register(self, kind: str, handler: Handler) -> None:
        """Run `handler` for jobs of `kind` (one handler per kind)."""
        if kind in self.handlers and self.handlers[kind] is not handler:
            raise ValueError(f"job kind '{kind}' already has a handler")
        self.handlers[kind] = handler

    def lock(self, ws_id: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks.setdefault(ws_id, threading.RLock())

    # -- scheduling ---------------------------------------------------------

    def schedule(
        self,
        ws_id: str,
        kind: str,
        due_ms: int,
        payload: dict[str, Any] | None = None,
        *,
        key: str | None = None,
    ) -> int:
        """Store a job; it runs when the workspace clock reaches `due_ms`."""
        with self.store.tx():
            row = self.store.one(
                "INSERT INTO jobs (workspace_id, kind, due_ms, payload, key, state, created_ms)"
                " VALUES (?,?,?,?,?,?,?) RETURNING id",
                (
                    ws_id,
                    kind,
                    int(due_ms),
                    dumps(payload or {}),
                    key,
                    _INITIAL,
                    self.clocks.now(ws_id),
                ),
            )
            self._scheduled[ws_id] = self._scheduled.get(ws_id, 0) + 1
            quiet = self._quiet.get(ws_id)
            if quiet is not None and int(due_ms) <= quiet:
                self._quiet.pop(ws_id, None)
            return int(row[0])

    @staticmethod
    def _pending_where(ws_id: str, kind: str | None, key: str | None) -> tuple[str, tuple]:
        """The WHERE clause for a workspace's pending (cancellable) jobs, narrowed by kind/key."""
        assert _CANCEL.sources == (_INITIAL,)  # cancellable means pending: the indexed state
        where = "workspace_id = ? AND " + PENDING_SQL
        params: list[Any] = [ws_id]
        for column, value in (("kind", kind), ("key", key)):
            if value is not None:
                where += f" AND {column} = ?"
                params.append(value)
        return where, tuple(params)

    def cancel(self, ws_id: str, *, kind: str | None = None, key: str | None = None) -> int:
        """Cancel pending jobs of a workspace matching kind and/or key."""
        where, params = self._pending_where(ws_id, kind, key)
        with self.store.tx():
            return self.store.execute(
                f"UPDATE jobs SET state = ? WHERE {where}", (_CANCEL.target, *params)
            ).rowcount

    def pending(self, ws_id: str, *, kind: str | None = None, key: str | None = None) -> list[Job]:
        where, params = self._pending_where(ws_id, kind, key)
        rows = self.store.all(f"SELECT * FROM jobs WHERE {where} ORDER BY due_ms, id", params)
        return [_job(r) for r in rows]

    def next_due(self, ws_id: str) -> int | None:
        return self.store.scalar(
            f"SELECT MIN(due_ms) FROM jobs WHERE workspace_id = ? AND {PENDING_SQL}", (ws_id,)
        )

    def due_workspaces(self, wall_ms: int) -> list[str]:
        """Workspaces on a real clock with a pending job due by now (one query for all)."""
        return [
            row[0]
            for row in self.store.all(
                "SELECT w.id FROM workspaces w WHERE w.clock_mode = 'real' AND EXISTS"
                " (SELECT 1 FROM jobs j WHERE j.workspace_id = w.id AND j."
                + PENDING_SQL
                + " AND j.due_ms <= ? + w.clock_offset_ms) ORDER BY w.created_ms",
                (wall_ms,),
            )
        ]

    # -- running ------------------------------------------------------------

    def _take_next(self, ws_id: str, until_ms: int) -> tuple[Job, str] | None:
        """In one transaction: the next job due by `until_ms`, the clock moved to its due
        time, the job claimed as running (so a nested runner in this thread skips it).

        Answers the job and the clock's mode, or None when nothing is due.
        """
        with self.store.tx():
            row = self.store.one(_TAKE_NEXT_SQL, (_CLAIM.target, ws_id, until_ms, *_CLAIM.sources))
            if row is None:
                return None
            job = _job(row)
            mode, _ = self.clocks.move_to(ws_id, job.due_ms)
            return job, mode

    def recover(self) -> int:
        """After a crash, jobs caught running are pending again (at-least-once)."""
        self._quiet.clear()
        with self.store.tx():
            return self.store.execute(
                "UPDATE jobs SET state = ? WHERE " + _RECOVER.where("state"),
                (_RECOVER.target, *_RECOVER.sources),
            ).rowcount

    def _run_one(self, job: Job) -> None:
        """Run a claimed job's handler and settle it (one statement)."""
        handler = self.handlers.get(job.kind)
        error: str | None = None
        if handler is None:
            error = f"no handler for job kind '{job.kind}'"
        else:
            try:
                handler(self.owner, job)
            except Exception as exc:  # a failing job must not stop the clock
                log.exception("job %s (%s) failed", job.id, job.kind)
                error = f"{type(exc).__name__}: {exc}"
        settle = _FAIL if error else _FINISH
        self.store.execute(
            "UPDATE jobs SET state = ?, finished_ms = ?, error = ? WHERE id = ?"
            " AND " + settle.where("state"),
            (settle.target, self.clocks.now(job.workspace_id), error, job.id, *settle.sources),
        )

    def run_until(self, ws_id: str, until_ms: int, progress: Progress | None = None) -> int:
        """Run jobs due at or before `until_ms`, moving the clock to each due time."""
        ran = 0
        with self.lock(ws_id):
            while ran < MAX_JOBS_PER_RUN:
                if ws_id in self._stop:
                    self._stop.discard(ws_id)
                    raise MoveCancelled(ran)
                scheduled = self._scheduled.get(ws_id, 0)
                taken = self._take_next(ws_id, until_ms)
                if taken is None:
                    if self._scheduled.get(ws_id, 0) == scheduled:
                        self._quiet[ws_id] = max(until_ms, self._quiet.get(ws_id, until_ms))
                    break
                job, mode = taken
                if mode == "manual":  # the job's every `now` is its due time: no queries
                    with self.clocks.pinned(ws_id, job.due_ms):
                        self._run_one(job)
                else:
                    self._run_one(job)
                ran += 1
                if progress is not None:
                    progress(ran, job.due_ms)
        return ran

    def run_due(self, ws_id: str) -> int:
        """Run what is due now (used by the real-mode ticker)."""
        return self.run_until(ws_id, self.clocks.now(ws_id))

    def try_run_due(self, ws_id: str) -> int:
        """Run what is due now unless another thread is running this workspace's jobs.

        That runner keeps going until nothing is due, so skipping loses no work,
        and never waiting here means a job's own HTTP call back into this
        process cannot deadlock on the workspace lock.
        """
        lock = self.lock(ws_id)
        if not lock.acquire(blocking=False):
            return 0
        try:
            now = self.clocks.now(ws_id)
            quiet = self._quiet.get(ws_id)
            if quiet is not None and now <= quiet:
                return 0  # nothing was scheduled by now since a run found nothing due
            return self.run_until(ws_id, now)
        finally:
            lock.release()

    def advance(self, ws_id: str, seconds: float, progress: Progress | None = None) -> int:
        if seconds < 0:
            raise ClockError("The clock only moves forward: 'seconds' must be 0 or more")
        with self.lock(ws_id):
            target = self.clocks.now(ws_id) + int(round(seconds * 1000))
            return self.advance_to(ws_id, target, progress)

    def advance_to(self, ws_id: str, target_ms: int, progress: Progress | None = None) -> int:
        """Run every job due by `target_ms`, then move the clock there.

        Raises `MoveCancelled` when `stop_move` stops it (the clock stays at the last job)."""
        with self.lock(ws_id), self._move(ws_id):
            if target_ms < self.clocks.now(ws_id):
                raise ClockError("The clock only moves forward: that instant is in the past")
            ran = self.run_until(ws_id, target_ms, progress)
            self.clocks.move_to(ws_id, target_ms)
            return ran

    def run_until_idle(self, ws_id: str, max_ms: int, progress: Progress | None = None) -> int:
        """Run jobs one after another until none is left within `max_ms` from now.

        The clock ends at the last job's due time (or where it was, if none ran).
        """
        with self.lock(ws_id), self._move(ws_id):
            return self.run_until(ws_id, self.clocks.now(ws_id) + max_ms, progress)

    @contextmanager
    def _move(self, ws_id: str) -> Iterator[None]:
        self._moving.add(ws_id)
        try:
            yield
        finally:
            self._moving.discard(ws_id)
            self._stop.discard(ws_id)

    def stop_move(self, ws_id: str) -> bool:
        """Stop the clock move running in this workspace after its current job.

        Answers whether one was running. Never waits for the workspace's lock."""
        if ws_id not in self._moving:
            return False
        self._stop.add(ws_id)
        return True

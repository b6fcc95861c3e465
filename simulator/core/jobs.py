"""Timed work: jobs stored with a due time, run in due-time order on the virtual clock.

Advancing a workspace's clock runs every job that falls due on the way, in
(due time, insertion) order, moving the clock to each job's due time before it
runs, so each job sees `now` equal to its due time. Handlers manage their own
transactions and must not hold one across outbound HTTP.

A job left running by a crash is run again on the next advance or tick:
at-least-once, like the service it simulates.

Several processes may share one database (PostgreSQL). Then:

* a workspace's jobs run, and its clock moves, only under the store's workspace
  lock (an advisory lock on PostgreSQL), so two advances never interleave;
* a job is claimed with `FOR UPDATE SKIP LOCKED` and stamped with the claiming
  process (`claimed_by`) and a lease (`lease_until_ms`, wall time);
* a job found running by whoever takes the workspace's lock is an orphan (its
  runner held that lock and no longer does: the process died), so it is pending
  again at once; a job whose lease ran out is pending again at the next
  `recover` (at start, and every `RECOVER_EVERY_S` on the ticker);
* the real-mode ticker asks `job_wakeups`, an index of the wall instant each
  real-clock workspace next has work due, so idle workspaces cost nothing.

Nothing is kept per workspace in this process beyond what a running call holds:
locks are forgotten when no one holds them, and the one cache (`_quiet`, used
only when no other process shares the database) is bounded.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from statemachine import State, StateMachine

from simulator.core.clock import ClockError, Clocks
from simulator.core.lifecycle import edge
from simulator.core.store import SKIP_LOCKED, Store, WorkspaceLock, dumps, loads

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
    error TEXT,
    claimed_by TEXT,
    lease_until_ms INTEGER
);
DROP INDEX IF EXISTS jobs_pending;
DROP INDEX IF EXISTS jobs_key;
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (workspace_id, due_ms, id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS jobs_pending_key ON jobs (workspace_id, key) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS jobs_running ON jobs (workspace_id) WHERE state = 'running';
CREATE TABLE IF NOT EXISTS job_wakeups (
    workspace_id TEXT PRIMARY KEY,
    wall_due_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS job_wakeups_due ON job_wakeups (wall_due_ms);
CREATE TABLE IF NOT EXISTS clock_moves (
    workspace_id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    stop INTEGER NOT NULL DEFAULT 0
);
"""
# `clock_moves` holds, on a shared database, the clock move running in each workspace and
# whether another instance asked it to stop (`POST /_sim/clock/cancel` may reach any one).
# Columns added to `jobs` after it first shipped (older store files get them).
COLUMNS = (
    ("jobs", "claimed_by", "TEXT"),
    ("jobs", "lease_until_ms", "INTEGER"),
)
# `job_wakeups` holds one row per real-clock workspace with pending work: the wall instant its
# next job falls due (its due time less the clock's offset). A row may be early (a job was
# cancelled), never late: scheduling lowers it in the same statement, and every run, clock
# move and mode switch writes it afresh.
# Only pending jobs are indexed (partial indexes), so finished jobs, however many, are never
# walked by the runner, by cancel or by the ticker. A query uses those indexes only when its
# WHERE names the state as the literal 'pending' (`PENDING_SQL`), never as a bound parameter.

# A safety net against a handler that keeps scheduling itself at the same instant.
MAX_JOBS_PER_RUN = 5_000_000

# How long a claimed job is its claimer's (wall time). A handler's outbound calls time out
# long before; a job still running past its lease is another process's to take.
LEASE_MS = 60_000
# How often the ticker gives back the jobs whose lease ran out.
RECOVER_EVERY_S = 10.0
# The most workspaces the ticker visits in one tick (the earliest due first).
TICK_BATCH = 500
# The most workspaces the `_quiet` cache remembers before it starts again.
QUIET_CACHE_MAX = 10_000
# What `_quiet` holds for a workspace with no job pending: nothing is due until one is.
QUIET_FOREVER = 2**62
# How often (wall time) a move on a shared database looks for a stop asked elsewhere.
STOP_POLL_S = 0.1


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
# the partial index `jobs_due`; on PostgreSQL it locks the row and skips one another process
# is claiming).
_TAKE_NEXT_SQL = (
    "UPDATE jobs SET state = ?, claimed_by = ?, lease_until_ms = ? WHERE id ="
    " (SELECT id FROM jobs WHERE workspace_id = ? AND "
    + PENDING_SQL
    + " AND due_ms <= ? ORDER BY due_ms, id LIMIT 1"
    + SKIP_LOCKED
    + ") AND "
    + _CLAIM.where("state")
    + " RETURNING *"
)
# A job's end: done (True) or failed (False), written only by its claimer.
_SETTLE_SQL = {
    ok: "UPDATE jobs SET state = ?, finished_ms = ?, error = ?, lease_until_ms = NULL"
    " WHERE id = ? AND claimed_by = ? AND " + settle.where("state")
    for ok, settle in ((True, _FINISH), (False, _FAIL))
}


# On PostgreSQL, one statement (data-modifying CTEs) writes the success of the job that just
# ran (`True`: there is one), claims the next (`_TAKE_NEXT_SQL`) and moves the clock to its
# due time; the row is the job's with the clock's columns after it.
_CLAIM_SQL = {
    settling: ("WITH " + (f"done AS ({_SETTLE_SQL[True]}), " if settling else ""))
    + f"claimed AS ({_TAKE_NEXT_SQL}), moved AS (UPDATE workspaces SET "
    + Clocks.move_set("claimed.due_ms", "?")
    + " FROM claimed WHERE workspaces.id = claimed.workspace_id RETURNING "
    + Clocks.MOVE_RETURNING
    + ") SELECT claimed.*, moved.* FROM claimed JOIN moved ON true"
    for settling in (False, True)
}


class _WritesFailed(Exception):
    """A job's last writes (`Scheduler.finish_with`) failed; `reason` is the job's error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_NO_TX = nullcontext()


@dataclass(frozen=True)
class _Settle:
    """How a job that ran ends: at `finished_ms`, with `error` (None: it succeeded).

    `writes`: the job's last writes (`Scheduler.finish_with`), made in the transaction
    that writes its end, in workspace `ws_id` at instant `pin` (a manual clock's due
    time; None: the clock as it reads)."""

    job_id: int
    finished_ms: int
    error: str | None
    writes: tuple[Callable[[], None], ...] = ()
    ws_id: str = ""
    pin: int | None = None

    def params(self, instance: str) -> tuple:
        settle = _FINISH if self.error is None else _FAIL
        return (
            settle.target,
            self.finished_ms,
            self.error,
            self.job_id,
            instance,
            *settle.sources,
        )


_SCHEDULE_SQL = (
    "INSERT INTO jobs (workspace_id, kind, due_ms, payload, key, state, created_ms)"
    " VALUES (?,?,?,?,?,?,?)"
)
_ANY_DUE_SQL = (
    "SELECT 1 FROM jobs WHERE workspace_id = ? AND " + PENDING_SQL + " AND due_ms <= ? LIMIT 1"
)
_WAKE_SQL = (  # lower (or make) a real-clock workspace's wakeup for a job due at `due_ms`
    "INSERT INTO job_wakeups (workspace_id, wall_due_ms) SELECT id, ? - clock_offset_ms"
    " FROM workspaces WHERE id = ? AND clock_mode = 'real' ON CONFLICT (workspace_id) DO UPDATE"
    " SET wall_due_ms = CASE WHEN excluded.wall_due_ms < job_wakeups.wall_due_ms"
    " THEN excluded.wall_due_ms ELSE job_wakeups.wall_due_ms END"
)
_REWAKE_SQL = (  # a workspace's wakeup from its pending jobs (none: no row)
    "INSERT INTO job_wakeups (workspace_id, wall_due_ms) SELECT w.id,"
    " MIN(j.due_ms) - w.clock_offset_ms FROM workspaces w JOIN jobs j ON j.workspace_id = w.id"
    " AND j." + PENDING_SQL + " WHERE w.id = ? AND w.clock_mode = 'real'"
    " GROUP BY w.id, w.clock_offset_ms"
)


def instance_name() -> str:
    """What this process writes in `claimed_by`: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


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


class ClockLock:
    """A workspace lock that, when first taken by a thread, re-reads its pinned clock."""

    __slots__ = ("_lock", "_clocks", "_ws_id")

    def __init__(self, lock: WorkspaceLock, clocks: Clocks, ws_id: str) -> None:
        self._lock = lock
        self._clocks = clocks
        self._ws_id = ws_id

    def acquire(self, blocking: bool = True) -> bool:
        if not self._lock.acquire(blocking):
            return False
        if self._lock.depth == 1:
            try:
                self._clocks.reread(self._ws_id)
            except BaseException:
                self._lock.release()
                raise
        return True

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> ClockLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Scheduler:
    def __init__(self, store: Store, clocks: Clocks, owner: Any) -> None:
        self.store = store
        self.clocks = clocks
        self.owner = owner  # what handlers are called with (the runtime)
        self.handlers: dict[str, Handler] = {}
        self.instance = instance_name()
        # What this process knows without a query, when it is the database's only user:
        # nothing pending of workspace w was due by `_quiet[w]` when a run last found nothing
        # more to do. Scheduling a job due by then forgets it; `_schedulings` counts
        # schedulings, so a run that raced one does not record a quiet it cannot vouch for.
        # With other processes on the database (`store.shared`) it stays empty: their
        # schedulings are not seen here.
        self._quiet: dict[str, int] = {}
        self._schedulings = 0
        # The workspaces whose job this thread is running (a nested run must not take that
        # job for an orphan).
        self._local = threading.local()
        # Workspaces with a clock move running (advance, set, run-until-idle), and those
        # whose move was asked to stop after its current job.
        self._moving: set[str] = set()
        self._stop: set[str] = set()

    def footprint(self) -> dict[str, int]:
        """What this process keeps per workspace right now (bounded; for benchmarks)."""
        return {"workspace_locks": self.store.workspace_locks_kept(), "quiet": len(self._quiet)}

    def register(self, kind: str, handler: Handler) -> None:
        """Run `handler` for jobs of `kind` (one handler per kind)."""
        if kind in self.handlers and self.handlers[kind] is not handler:
            raise ValueError(f"job kind '{kind}' already has a handler")
        self.handlers[kind] = handler

    def finish_with(self, write: Callable[[], None]) -> None:
        """Make `write` the running job's last writes: they are made in the transaction that
        writes the job's end (and claims the next job), so the two commit together and
        take one transaction, not two. A handler calls this as the last thing it does:
        nothing it runs may read what `write` writes. Outside a job, `write` runs now."""
        frames = getattr(self._local, "finishing", None)
        if not frames:
            write()
            return
        frames[-1].append(write)

    def lock(self, ws_id: str) -> ClockLock:
        """The workspace's lock (re-entrant; on a shared database, every process honours it).

        Whoever holds it may read the clock and move it: taking it re-reads this thread's
        pinned instant, which another mover may have changed while this one waited."""
        return ClockLock(self.store.workspace_lock(ws_id), self.clocks, ws_id)

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
        """Store a job; it runs when the workspace clock reaches `due_ms`. Answers its id."""
        with self.store.tx():
            row = self.store.one(
                _SCHEDULE_SQL + " RETURNING id", self._new(ws_id, kind, due_ms, payload, key)
            )
            self._scheduled(ws_id, int(due_ms))
            return int(row[0])

    def schedule_later(
        self,
        ws_id: str,
        kind: str,
        due_ms: int,
        payload: dict[str, Any] | None = None,
        *,
        key: str | None = None,
    ) -> None:
        """`schedule` without the id: in a transaction the INSERT may travel with the next
        statement (`Store.execute_later`)."""
        with self.store.tx():
            self.store.execute_later(_SCHEDULE_SQL, self._new(ws_id, kind, due_ms, payload, key))
            self._scheduled(ws_id, int(due_ms))

    def _new(
        self, ws_id: str, kind: str, due_ms: int, payload: dict[str, Any] | None, key: str | None
    ) -> tuple:
        now = self.clocks.now(ws_id)
        return (ws_id, kind, int(due_ms), dumps(payload or {}), key, _INITIAL, now)

    def _scheduled(self, ws_id: str, due_ms: int) -> None:
        if not self.clocks.is_pinned(ws_id):  # a pinned clock is manual: no wakeup
            self.store.execute_later(_WAKE_SQL, (due_ms, ws_id))
        self._schedulings += 1
        quiet = self._quiet.get(ws_id)
        if quiet is not None and due_ms <= quiet:
            self._quiet.pop(ws_id, None)

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

    def cancel(
        self, ws_id: str, *, kind: str | None = None, key: str | None = None, count: bool = True
    ) -> int | None:
        """Cancel pending jobs of a workspace matching kind and/or key; answers how many,
        unless `count` is False (then, in a transaction, the statement may travel with the
        next one: `Store.execute_later`)."""
        where, params = self._pending_where(ws_id, kind, key)
        sql, params = f"UPDATE jobs SET state = ? WHERE {where}", (_CANCEL.target, *params)
        if not count:
            self.store.execute_later(sql, params)
            return None
        with self.store.tx():
            return self.store.execute(sql, params).rowcount

    def pending(self, ws_id: str, *, kind: str | None = None, key: str | None = None) -> list[Job]:
        where, params = self._pending_where(ws_id, kind, key)
        rows = self.store.all(f"SELECT * FROM jobs WHERE {where} ORDER BY due_ms, id", params)
        return [_job(r) for r in rows]

    def next_due(self, ws_id: str) -> int | None:
        return self.store.scalar(
            f"SELECT MIN(due_ms) FROM jobs WHERE workspace_id = ? AND {PENDING_SQL}", (ws_id,)
        )

    def due_workspaces(self, wall_ms: int, limit: int = TICK_BATCH) -> list[str]:
        """Workspaces on a real clock with a pending job due by now, earliest first (one
        query on the wakeup index: workspaces with nothing due are not read)."""
        return [
            row[0]
            for row in self.store.all(
                "SELECT k.workspace_id FROM job_wakeups k JOIN workspaces w"
                " ON w.id = k.workspace_id AND w.clock_mode = 'real'"
                " WHERE k.wall_due_ms <= ? ORDER BY k.wall_due_ms LIMIT ?",
                (wall_ms, limit),
            )
        ]

    def rewake(self, ws_id: str) -> None:
        """Write the workspace's wakeup afresh from its pending jobs and its clock (neither
        write is read back: on PostgreSQL both go with the COMMIT, one round trip)."""
        with self.store.tx():
            self.store.execute_later("DELETE FROM job_wakeups WHERE workspace_id = ?", (ws_id,))
            self.store.execute_later(_REWAKE_SQL, (ws_id,))

    def set_mode(self, ws_id: str, mode: str) -> int:
        """Switch the workspace's clock mode (`Clocks.set_mode`) and its wakeup with it."""
        with self.lock(ws_id):
            current = self.clocks.set_mode(ws_id, mode)
            self.rewake(ws_id)
        return current

    # -- running ------------------------------------------------------------

    def _take_next(
        self, ws_id: str, until_ms: int, settled: _Settle | None = None
    ) -> tuple[Job, str] | None:
        """The next job due by `until_ms` claimed as running (so a nested runner in this
        thread skips it), and the clock moved to its due time; `settled`, the previous
        job's success, is written on the way.

        Answers the job and the clock's mode, or None when nothing is due. On SQLite the
        previous job's last writes (`finish_with`), its settle, the claim and the move
        happen in one transaction. On PostgreSQL the last three are one statement
        (`_CLAIM_SQL`), sent in one pipeline with the last writes and their COMMIT. Last
        writes that fail roll the claim back with them; the job is then written as failed
        and the claim is made again."""
        if settled is not None and settled.writes:
            try:
                return self._claim(ws_id, until_ms, settled)
            except _WritesFailed as failed:  # rolled back with the claim: the job failed
                self._settle(_Settle(settled.job_id, settled.finished_ms, failed.reason))
                settled = None
        return self._claim(ws_id, until_ms, settled)

    def _claim(self, ws_id: str, until_ms: int, settled: _Settle | None) -> tuple[Job, str] | None:
        wall = self.clocks.wall()
        claim = (_CLAIM.target, self.instance, wall + LEASE_MS, ws_id, until_ms, *_CLAIM.sources)
        if self.store.dialect.modifying_ctes:
            sql = _CLAIM_SQL[settled is not None]
            params = (*(settled.params(self.instance) if settled else ()), *claim, wall, wall)
            if settled is not None and settled.writes:
                with self.store.tx():
                    self._write_last(settled)
                    claimed = self.store.one_soon(sql, params)  # travels with the COMMIT
                row = claimed.get()
            else:
                row = self.store.one(sql, params)
            if row is None:
                return None
            return _job(row), self.clocks.moved(ws_id, row["due_ms"], wall, row)[0]
        with self.store.tx():
            if settled is not None:
                self._write_last(settled)
                self._settle(settled)
            row = self.store.one(_TAKE_NEXT_SQL, claim)
            if row is None:
                return None
            job = _job(row)
            mode, _ = self.clocks.move_to(ws_id, job.due_ms)
            return job, mode

    def recover(self) -> int:
        """After a crash, jobs caught running are pending again (at-least-once).

        With no other process on the database, every running job is an orphan. On a
        shared database only those whose lease ran out are (a live instance may be
        running the others); a killed instance's jobs come back sooner, when anyone
        takes their workspace's lock (`_recover_orphans`)."""
        self._quiet.clear()
        where, params = _RECOVER.where("state"), tuple(_RECOVER.sources)
        if self.store.shared:
            where += " AND (lease_until_ms IS NULL OR lease_until_ms < ?)"
            params += (self.clocks.wall(),)
        with self.store.tx():
            rows = self.store.all(
                "UPDATE jobs SET state = ?, claimed_by = NULL, lease_until_ms = NULL WHERE "
                + where
                + " RETURNING workspace_id",
                (_RECOVER.target, *params),
            )
            for ws_id in sorted({row[0] for row in rows}):
                self.rewake(ws_id)  # pending again: due for the ticker too
        return len(rows)

    def _recover_orphans(self, ws_id: str) -> int:
        """Under the workspace's lock, outside any of its jobs: a job of it still running was
        claimed by a runner that held this lock and lost it (its process died). Pending again."""
        return self.store.execute(
            "UPDATE jobs SET state = ?, claimed_by = NULL, lease_until_ms = NULL"
            " WHERE workspace_id = ? AND " + _RECOVER.where("state"),
            (_RECOVER.target, ws_id, *_RECOVER.sources),
        ).rowcount

    def _running_here(self) -> set[str]:
        running = getattr(self._local, "running", None)
        if running is None:
            running = self._local.running = set()
        return running

    def _run_one(self, job: Job, pin: int | None = None) -> _Settle:
        """Run a claimed job's handler (at instant `pin`, when the clock is pinned); answers
        how to settle it (`_settle`), with the last writes it left (`finish_with`)."""
        handler = self.handlers.get(job.kind)
        error: str | None = None
        frames = getattr(self._local, "finishing", None)
        if frames is None:
            frames = self._local.finishing = []
        frames.append([])  # a nested run (a job's call back into this process) has its own
        try:
            if handler is None:
                error = f"no handler for job kind '{job.kind}'"
            else:
                try:
                    handler(self.owner, job)
                except Exception as exc:  # a failing job must not stop the clock
                    log.exception("job %s (%s) failed", job.id, job.kind)
                    error = f"{type(exc).__name__}: {exc}"
        finally:
            writes = tuple(frames.pop())
        return _Settle(
            job.id, self.clocks.now(job.workspace_id), error, writes, job.workspace_id, pin
        )

    def _settle(self, settle: _Settle) -> None:
        """Write a job's end (one statement; only its claimer may)."""
        self.store.execute(_SETTLE_SQL[settle.error is None], settle.params(self.instance))

    def _write_last(self, settle: _Settle) -> None:
        """The job's last writes (`finish_with`), in the caller's transaction, at the job's
        instant; their failure is `_WritesFailed` (the transaction rolls back)."""
        if not settle.writes:
            return
        # on an unshared store no other thread writes inside this transaction, so what
        # the count moves by is these writes' (a shared store records no quiet anyway)
        before = self._schedulings
        try:
            pinned = settle.pin is not None
            with self.clocks.pinned(settle.ws_id, settle.pin) if pinned else _NO_TX:  # type: ignore[arg-type]
                for write in settle.writes:
                    write()
        except Exception as exc:
            log.exception("the last writes of job %s failed", settle.job_id)
            raise _WritesFailed(f"{type(exc).__name__}: {exc}") from exc
        self._local.own_schedulings = self._schedulings - before

    def _settle_now(self, settle: _Settle) -> None:
        """Write a job's end now, with its last writes in the same transaction (when their
        writing fails, nothing of them is kept and the job failed)."""
        if not settle.writes:
            self._settle(settle)
            return
        try:
            with self.store.tx():
                self._write_last(settle)
                self._settle(settle)
        except _WritesFailed as failed:
            self._settle(_Settle(settle.job_id, settle.finished_ms, failed.reason))

    def run_until(self, ws_id: str, until_ms: int, progress: Progress | None = None) -> int:
        """Run jobs due at or before `until_ms`, moving the clock to each due time."""
        with self.lock(ws_id):
            try:
                return self._run_until(ws_id, until_ms, progress)
            finally:
                if ws_id not in self._running_here():
                    self.rewake(ws_id)

    def _run_until(self, ws_id: str, until_ms: int, progress: Progress | None = None) -> int:
        ran = 0
        running = self._running_here()
        if ws_id not in running:
            self._recover_orphans(ws_id)
        polled = time.monotonic()
        # A job that succeeded is settled by the next claim (on PostgreSQL in the same
        # statement); whatever way the loop ends, the last one is settled before it does.
        settled: _Settle | None = None
        try:
            while ran < MAX_JOBS_PER_RUN:
                if ws_id in self._moving and self.store.shared:
                    if time.monotonic() - polled >= STOP_POLL_S:
                        polled = time.monotonic()
                        if self.store.scalar(
                            "SELECT stop FROM clock_moves WHERE workspace_id = ?", (ws_id,)
                        ):
                            self._stop.add(ws_id)
                if ws_id in self._stop:
                    self._stop.discard(ws_id)
                    raise MoveCancelled(ran)
                scheduled = self._schedulings
                self._local.own_schedulings = 0
                taken = self._take_next(ws_id, until_ms, settled)
                settled = None
                if taken is None:
                    # what the last job's writes scheduled, the claim after them has seen
                    scheduled += self._local.own_schedulings
                    if self._schedulings == scheduled and not self.store.shared:
                        self._remember_quiet(ws_id, until_ms, scheduled)
                    break
                job, mode = taken
                nested = ws_id in running
                running.add(ws_id)
                try:
                    if mode == "manual":  # the job's every `now` is its due time: no queries
                        with self.clocks.pinned(ws_id, job.due_ms):
                            outcome = self._run_one(job, job.due_ms)
                    else:
                        outcome = self._run_one(job)
                finally:
                    if not nested:
                        running.discard(ws_id)
                if outcome.error is None:
                    settled = outcome
                else:
                    self._settle_now(outcome)
                ran += 1
                if progress is not None:
                    progress(ran, job.due_ms)
        finally:
            if settled is not None:
                self._settle_now(settled)
        return ran

    def _remember_quiet(self, ws_id: str, until_ms: int, scheduled: int) -> None:
        """Nothing is due by `until_ms`: remember it, up to just before the earliest job
        pending (a real clock's requests then run nothing until that job is due)."""
        next_due = self.next_due(ws_id)
        quiet = QUIET_FOREVER if next_due is None else max(until_ms, int(next_due) - 1)
        if len(self._quiet) >= QUIET_CACHE_MAX:
            self._quiet.clear()
        self._quiet[ws_id] = max(quiet, self._quiet.get(ws_id, quiet))
        if self._schedulings != scheduled:  # one came meanwhile: it may be due by then
            self._quiet.pop(ws_id, None)

    def run_due(self, ws_id: str) -> int:
        """Run what is due now (used by the real-mode ticker)."""
        return self.run_until(ws_id, self.clocks.now(ws_id))

    def try_run_due(self, ws_id: str) -> int:
        """Run what is due now unless another thread is running this workspace's jobs.

        That runner keeps going until nothing is due, so skipping loses no work,
        and never waiting here means a job's own HTTP call back into this
        process cannot deadlock on the workspace lock.
        """
        now = self.clocks.now(ws_id)
        quiet = self._quiet.get(ws_id)
        if quiet is not None and now <= quiet:
            return 0  # nothing was scheduled by now since a run found nothing due
        if self.store.shared and self.store.one(_ANY_DUE_SQL, (ws_id, now)) is None:
            return 0  # one indexed read instead of the lock's round trips
        lock = self.lock(ws_id)
        if not lock.acquire(blocking=False):
            return 0
        try:
            return self.run_until(ws_id, self.clocks.now(ws_id))
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
            outer = ws_id not in self._running_here()
            try:
                ran = self._run_until(ws_id, target_ms, progress)
                self.clocks.move_to(ws_id, target_ms)
            finally:
                if outer:  # after the move: a real clock's jump brings its jobs nearer
                    self.rewake(ws_id)
            return ran

    def run_until_idle(self, ws_id: str, max_ms: int, progress: Progress | None = None) -> int:
        """Run jobs one after another until none is left within `max_ms` from now.

        The clock ends at the last job's due time (or where it was, if none ran).
        """
        with self.lock(ws_id), self._move(ws_id):
            return self.run_until(ws_id, self.clocks.now(ws_id) + max_ms, progress)

    @contextmanager
    def _move(self, ws_id: str) -> Iterator[None]:
        outer = ws_id not in self._moving
        self._moving.add(ws_id)  # first: a cancel in this process from now on is seen here
        try:
            if outer and self.store.shared:  # seen by the instance a cancel reaches
                self.store.execute(
                    "INSERT INTO clock_moves (workspace_id, instance, stop) VALUES (?, ?, 0)"
                    " ON CONFLICT (workspace_id) DO UPDATE SET instance = excluded.instance,"
                    " stop = 0",
                    (ws_id, self.instance),
                )
            yield
        finally:
            if outer:
                self._moving.discard(ws_id)
                self._stop.discard(ws_id)
                if self.store.shared:
                    self.store.execute(
                        "DELETE FROM clock_moves WHERE workspace_id = ? AND instance = ?",
                        (ws_id, self.instance),
                    )

    def stop_move(self, ws_id: str) -> bool:
        """Stop the clock move running in this workspace after its current job.

        Answers whether one was running. Never waits for the workspace's lock. On a
        shared database the move may run on another instance: it is asked through
        `clock_moves` and stops within `STOP_POLL_S` of its next job."""
        if ws_id in self._moving:
            self._stop.add(ws_id)
            return True
        if not self.store.shared:
            return False
        row = self.store.one(
            "UPDATE clock_moves SET stop = 1 WHERE workspace_id = ? RETURNING instance", (ws_id,)
        )
        if row is None:
            return False
        lock = self.store.workspace_lock(ws_id)
        if lock.acquire(blocking=False):  # nobody holds the workspace: its mover died
            try:
                self.store.execute("DELETE FROM clock_moves WHERE workspace_id = ?", (ws_id,))
            finally:
                lock.release()
            return False
        return True

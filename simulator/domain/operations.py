"""Clock moves run in the background: an advance, set or run-until-idle the caller polls.

`POST /_sim/clock/advance {"seconds": …, "wait": false}` (and `/set`, `/run-until-idle`)
starts an operation and answers at once. The move runs on a thread of the runtime's
own (`core/background.py`), not on a server worker; as it goes, the scheduler reports
each job run, and the operation's row records the jobs run and the virtual time
reached (written at most every `PROGRESS_EVERY_S` of wall time, and at the end).

An operation is `running` until it ends `succeeded`, `cancelled` (asked by its
caller, or by `POST /_sim/clock/cancel`, after the job running then) or `failed`
(`failure_code`: `invalid_move` when the clock was already past the target,
`internal_error`, or `interrupted` when the process stopped while it ran: a drain
stops it after its current job, and a restart marks one a crash left `running`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from statemachine import State, StateMachine

from simulator.core import pagination
from simulator.core.background import SHUTDOWN
from simulator.core.clock import ClockError
from simulator.core.errors import not_found
from simulator.core.jobs import MoveCancelled
from simulator.core.lifecycle import edge, states, transition
from simulator.core.store import Store
from simulator.core.timeutil import iso
from simulator.domain.rows import Row

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS clock_operations (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    seconds REAL,
    from_ms INTEGER NOT NULL,
    target_ms INTEGER NOT NULL,
    reached_ms INTEGER NOT NULL,
    jobs_run INTEGER NOT NULL DEFAULT 0,
    failure_code TEXT,
    failure_message TEXT,
    started_wall_ms INTEGER NOT NULL,
    finished_wall_ms INTEGER,
    PRIMARY KEY (workspace_id, id)
);
"""

PREFIX = "op_"
ADVANCE, SET, RUN_UNTIL_IDLE = "advance", "set", "run_until_idle"
KINDS = (ADVANCE, SET, RUN_UNTIL_IDLE)
PROGRESS_EVERY_S = 0.1  # wall time between two progress writes of one operation
CANCEL_WAIT_S = 2.0  # how long a cancel waits for the operation's current job to end
CANCEL = "cancel"  # the stop reason of a caller's cancel

INTERRUPTED = "interrupted"
INVALID_MOVE = "invalid_move"
INTERNAL_ERROR = "internal_error"
FAILURE_CODES = (INTERRUPTED, INVALID_MOVE, INTERNAL_ERROR)


class OperationLifecycle(StateMachine):
    """A background clock move: running -> succeeded | cancelled | failed."""

    running = State(initial=True)
    succeeded = State(final=True)
    cancelled = State(final=True)
    failed = State(final=True)

    succeed = running.to(succeeded)
    cancel = running.to(cancelled)
    fail = running.to(failed)


STATUSES = states(OperationLifecycle)
RUNNING = OperationLifecycle.initial_state.value
_FAIL = edge(OperationLifecycle, "fail")


@dataclass(frozen=True, slots=True)
class Operation(Row):
    """A row of `clock_operations`."""

    workspace_id: str
    id: str
    seq: int
    kind: str
    status: str
    seconds: float | None
    from_ms: int
    target_ms: int
    reached_ms: int
    jobs_run: int
    failure_code: str | None
    failure_message: str | None
    started_wall_ms: int
    finished_wall_ms: int | None


def render(op: Operation) -> dict[str, Any]:
    span = op.target_ms - op.from_ms
    if op.status == "succeeded":
        progress = 1.0
    else:
        progress = 1.0 if span <= 0 else max(0.0, min(1.0, (op.reached_ms - op.from_ms) / span))
    return {
        "id": op.id,
        "resource_type": "clock_operation",
        "kind": op.kind,
        "status": op.status,
        "jobs_run": op.jobs_run,
        "from": iso(op.from_ms),
        "target": iso(op.target_ms),
        "virtual_time": iso(op.reached_ms),
        "progress": round(progress, 4),
        "failure_code": op.failure_code,
        "failure_message": op.failure_message,
        "started_at": iso(op.started_wall_ms),
        "finished_at": None if op.finished_wall_ms is None else iso(op.finished_wall_ms),
    }


def find(store: Store, ws_id: str, op_id: str) -> Operation | None:
    return Operation.maybe(
        store.one(
            "SELECT * FROM clock_operations WHERE workspace_id = ? AND id = ?", (ws_id, op_id)
        )
    )


def get_row(store: Store, ws_id: str, op_id: str) -> Operation:
    op = find(store, ws_id, op_id)
    if op is None:
        raise not_found("clock operation", op_id, param="id")
    return op


def list_page(store: Store, ws_id: str, args: Mapping[str, str]) -> dict[str, Any]:
    """The workspace's operations, newest first."""
    return pagination.page(
        store,
        "clock_operations",
        kind="clock_operations",
        match={"workspace_id": ws_id},
        args=args,
        render=lambda row: render(Operation.from_row(row)),
    )


def interrupt_running(store: Store, wall_ms: int) -> int:
    """At start-up: operations a stopped process left `running` never finish; they are
    `failed` with `failure_code` `interrupted` (the clock stays where their last job left it).
    """
    with store.tx():
        return store.execute(
            "UPDATE clock_operations SET status = ?, failure_code = ?, failure_message = ?,"
            " finished_wall_ms = ? WHERE " + _FAIL.where("status"),
            (
                _FAIL.target,
                INTERRUPTED,
                "The simulator stopped while this operation ran",
                wall_ms,
                *_FAIL.sources,
            ),
        ).rowcount


def _thread_name(ws_id: str, op_id: str) -> str:
    return f"{ws_id}:{op_id}"


class _Stop:
    """Why a running operation was asked to stop (None: it was not)."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason


def start(
    rt: Runtime,
    ws_id: str,
    kind: str,
    *,
    seconds: float | None = None,
    target_ms: int | None = None,
) -> Operation:
    """Record a running operation and start its move on a background thread.

    `advance` takes `seconds`; `set` takes `target_ms`; `run_until_idle` takes `seconds`
    (its limit). The target is fixed again once the move holds the workspace's clock."""
    if kind not in KINDS:
        raise ValueError(f"unknown operation kind '{kind}'")
    now = rt.now(ws_id)
    target = _target(kind, now, seconds, target_ms)
    store = rt.store
    with store.tx():
        op_id, seq = rt.new_id(ws_id, PREFIX)
        store.execute(
            "INSERT INTO clock_operations (workspace_id, id, seq, kind, status, seconds, from_ms,"
            " target_ms, reached_ms, started_wall_ms) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (ws_id, op_id, seq, kind, RUNNING, seconds, now, target, now, rt.wall()),
        )
    started_as = get_row(store, ws_id, op_id)  # the answer: the move as it starts
    stop = _Stop()
    started = rt.background.start(
        _thread_name(ws_id, op_id), lambda: _run(rt, ws_id, op_id, stop), stop
    )
    if not started:
        _settle(rt, ws_id, op_id, "fail", now, 0, INTERRUPTED, "The simulator is stopping")
        return get_row(store, ws_id, op_id)
    return started_as


def cancel(rt: Runtime, ws_id: str, op_id: str, wait_s: float | None = None) -> Operation:
    """Stop a running operation after its current job and answer it: settled, unless that
    job takes longer than `wait_s` (then still `running`; it stops when the job ends).
    A finished operation is answered as it is."""
    op = get_row(rt.store, ws_id, op_id)
    if op.status == RUNNING:
        name = _thread_name(ws_id, op_id)
        if rt.background.request_stop(name, CANCEL):
            rt.background.join(name, CANCEL_WAIT_S if wait_s is None else wait_s)
    return get_row(rt.store, ws_id, op_id)


def _target(kind: str, now: int, seconds: float | None, target_ms: int | None) -> int:
    if kind == SET:
        assert target_ms is not None
        return int(target_ms)
    assert seconds is not None
    return now + int(round(seconds * 1000))


def _settle(
    rt: Runtime,
    ws_id: str,
    op_id: str,
    event: str,
    reached_ms: int,
    jobs_run: int,
    failure_code: str | None = None,
    failure_message: str | None = None,
) -> None:
    with rt.store.tx():
        op = find(rt.store, ws_id, op_id)
        if op is None or op.status != RUNNING:  # reset meanwhile, or settled by a restart
            return
        status = transition(OperationLifecycle, op.status, event)
        rt.store.execute(
            "UPDATE clock_operations SET status = ?, reached_ms = ?, jobs_run = ?,"
            " failure_code = ?, failure_message = ?, finished_wall_ms = ?"
            " WHERE workspace_id = ? AND id = ?",
            (
                status,
                reached_ms,
                jobs_run,
                failure_code,
                failure_message,
                rt.wall(),
                ws_id,
                op_id,
            ),
        )


class _Reporter:
    """The scheduler's progress callback for one operation: records progress now and then,
    and stops the move after the current job once the operation is asked to stop."""

    def __init__(self, rt: Runtime, ws_id: str, op_id: str, stop: _Stop) -> None:
        self.rt, self.ws_id, self.op_id, self.stop = rt, ws_id, op_id, stop
        self._written = float("-inf")  # the first job's progress is written at once

    def __call__(self, ran: int, due_ms: int) -> None:
        if self.stop.reason is not None:
            raise MoveCancelled(ran)
        if time.monotonic() - self._written >= PROGRESS_EVERY_S:
            self.record(ran, due_ms)

    def record(self, ran: int, reached_ms: int) -> None:
        self._written = time.monotonic()
        with self.rt.store.tx():
            self.rt.store.execute(
                "UPDATE clock_operations SET jobs_run = ?, reached_ms = ?"
                " WHERE workspace_id = ? AND id = ? AND status = ?",
                (ran, reached_ms, self.ws_id, self.op_id, RUNNING),
            )


def _run(rt: Runtime, ws_id: str, op_id: str, stop: _Stop) -> None:
    """The move itself, on the operation's thread."""
    scheduler = rt.scheduler
    reporter = _Reporter(rt, ws_id, op_id, stop)
    ran, event, code, message = 0, "succeed", None, None
    try:
        with scheduler.lock(ws_id):
            op = get_row(rt.store, ws_id, op_id)
            now = rt.now(ws_id)
            target = _target(op.kind, now, op.seconds, op.target_ms)
            with rt.store.tx():
                rt.store.execute(
                    "UPDATE clock_operations SET from_ms = ?, target_ms = ?, reached_ms = ?"
                    " WHERE workspace_id = ? AND id = ?",
                    (now, target, now, ws_id, op_id),
                )
            if stop.reason is not None:
                raise MoveCancelled(0)
            if op.kind == RUN_UNTIL_IDLE:
                ran = scheduler.run_until_idle(ws_id, target - now, reporter)
            else:
                ran = scheduler.advance_to(ws_id, target, reporter)
    except MoveCancelled as stopped:
        ran = stopped.ran
        if stop.reason == SHUTDOWN:
            event, code = "fail", INTERRUPTED
            message = "The simulator stopped while this operation ran"
        else:
            event = "cancel"
    except ClockError as exc:
        event, code, message = "fail", INVALID_MOVE, str(exc)
    except Exception as exc:
        log.exception("clock operation %s failed", op_id)
        event, code, message = "fail", INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"
    try:
        reached = rt.now(ws_id)
    except KeyError:  # the workspace is gone
        return
    _settle(rt, ws_id, op_id, event, reached, ran, code, message)

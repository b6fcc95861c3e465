"""`/_sim/clock`: read, advance, set forward, step to the next job, run until idle, switch mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask.typing import ResponseReturnValue

from simulator.core.clock import ClockError
from simulator.core.errors import invalid
from simulator.core.jobs import MoveCancelled
from simulator.core.timeutil import DAY, SECOND, iso, parse_iso
from simulator.domain import operations
from simulator.web import schemas
from simulator.web.http import json_body, runtime, workspace_id
from simulator.web.openapi import ok, request_body

bp = Blueprint("sim_clock", __name__, url_prefix="/_sim/clock")

DEFAULT_IDLE_LIMIT_S = 7 * DAY // SECOND


def _result(ws: str, jobs_run: int, *, cancelled: bool = False) -> dict:
    rt = runtime()
    body = {"now": iso(rt.now(ws)), "mode": rt.clocks.mode(ws), "jobs_run": jobs_run}
    if cancelled:
        body["cancelled"] = True
    return body


def _moved(ws: str, move: Callable[[], int]) -> dict[str, Any]:
    """Run a clock move; one stopped by `POST /_sim/clock/cancel` answers where it got to."""
    try:
        return _result(ws, move())
    except MoveCancelled as stopped:
        return _result(ws, stopped.ran, cancelled=True)


def _in_background(ws: str, kind: str, **move: Any) -> ResponseReturnValue:
    """202 with the operation that runs the move on a background thread."""
    op = operations.start(runtime(), ws, kind, **move)
    return operations.render(op), 202, {"Location": f"/_sim/operations/{op.id}"}


@bp.get("")
def read_clock() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return {"mode": rt.clocks.mode(ws), "now": iso(rt.now(ws))}


@bp.post("/advance")
def advance() -> ResponseReturnValue:
    ws = workspace_id()
    body = json_body(schemas.CLOCK_ADVANCE)
    if body.get("wait") is False:
        return _in_background(ws, operations.ADVANCE, seconds=float(body["seconds"]))
    try:
        return _moved(ws, lambda: runtime().scheduler.advance(ws, float(body["seconds"])))
    except ClockError as exc:
        raise invalid(str(exc), "seconds") from None


@bp.post("/set")
def set_now() -> ResponseReturnValue:
    ws = workspace_id()
    body = json_body(schemas.CLOCK_SET)
    rt = runtime()
    target = parse_iso(body["now"])
    current = rt.now(ws)
    if target < current:
        raise invalid(
            f"The clock only moves forward: {body['now']} is before the current time {iso(current)}",
            "now",
        )
    due = rt.scheduler.next_due(ws)
    if target - current > schemas.MAX_CLOCK_MOVE_S * SECOND and due is not None and due <= target:
        raise invalid(
            f"With jobs pending, one call moves the clock at most"
            f" {schemas.MAX_CLOCK_MOVE_S // 86400} days"
            f" (to {iso(current + schemas.MAX_CLOCK_MOVE_S * SECOND)}); set it again from there",
            "now",
        )
    if body.get("wait") is False:
        return _in_background(ws, operations.SET, target_ms=target)
    return _moved(ws, lambda: rt.scheduler.advance_to(ws, target))


@bp.post("/run-until-idle")
def run_until_idle() -> ResponseReturnValue:
    ws = workspace_id()
    body = json_body(schemas.CLOCK_RUN_UNTIL_IDLE, optional=True)
    limit_s = body.get("max_seconds", DEFAULT_IDLE_LIMIT_S)
    if body.get("wait") is False:
        return _in_background(ws, operations.RUN_UNTIL_IDLE, seconds=float(limit_s))
    return _moved(ws, lambda: runtime().scheduler.run_until_idle(ws, int(limit_s * SECOND)))


@bp.post("/cancel")
def cancel() -> dict[str, Any]:
    """Stop this workspace's running advance, set or run-until-idle after its current job."""
    ws = workspace_id()
    return {"cancelled": runtime().scheduler.stop_move(ws)}


CLOCK_STEP: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_seconds": {
            **schemas.CLOCK_SECONDS,
            "description": "Do not jump further than this to reach the next due job",
        }
    },
}

CLOCK_STEP_RESULT: dict[str, Any] = {
    **schemas.CLOCK_RESULT,
    "required": [*schemas.CLOCK_RESULT["required"], "next_due_at"],
    "properties": {
        **schemas.CLOCK_RESULT["properties"],
        "next_due_at": {
            "anyOf": [schemas.TIMESTAMP, {"type": "null"}],
            "description": "When the next pending job is due after this step (null: none)",
        },
    },
}


@bp.post("/step")
def step() -> dict[str, Any]:
    """Move to the next job's due time (at most `max_seconds` ahead) and run what is due."""
    ws = workspace_id()
    body = json_body(CLOCK_STEP, optional=True)
    rt = runtime()
    limit_ms = int(body.get("max_seconds", DEFAULT_IDLE_LIMIT_S) * SECOND)
    with rt.scheduler.lock(ws):
        now = rt.now(ws)
        due = rt.scheduler.next_due(ws)
        target = now + limit_ms if due is None else min(max(due, now), now + limit_ms)
        ran = rt.scheduler.advance_to(ws, target)
        following = rt.scheduler.next_due(ws)
    result = _result(ws, ran)
    result["next_due_at"] = None if following is None else iso(following)
    return result


@bp.post("/mode")
def set_mode() -> dict[str, Any]:
    ws = workspace_id()
    body = json_body(schemas.CLOCK_MODE)
    runtime().scheduler.set_mode(ws, body["mode"])
    return _result(ws, 0)


_ACCEPTED = {
    "202": {
        "description": "With `wait: false`: the clock operation running the move (poll "
        "`GET /_sim/operations/{id}`, named in `Location`)",
        "headers": {"Location": {"schema": {"type": "string"}}},
        "content": {"application/json": {"schema": schemas.CLOCK_OPERATION}},
    }
}


def _clock_op(op_id: str, summary: str, body: dict | None, description: str) -> dict:
    responses = ok(schemas.CLOCK_RESULT, "Where the clock is and how many jobs ran")
    if body is not None and "wait" in body["properties"]:
        responses = {**responses, **_ACCEPTED}
    op = {
        "operationId": op_id,
        "summary": summary,
        "description": description,
        "responses": responses,
    }
    if body is not None:
        op["requestBody"] = request_body(body, required=body is not schemas.CLOCK_RUN_UNTIL_IDLE)
    return op


OPENAPI_PATHS = {
    "/_sim/clock": {
        "get": {
            "operationId": "sim.getClock",
            "description": "The workspace's virtual time, its mode (`manual` or `real`) and the next timed job due, if any.",
            "summary": "Read the workspace clock",
            "responses": ok(schemas.CLOCK_STATE, "The clock"),
        }
    },
    "/_sim/clock/advance": {
        "post": _clock_op(
            "sim.advanceClock",
            "Advance the clock by a duration",
            schemas.CLOCK_ADVANCE,
            "Jobs due on the way run in due order, each seeing `now` equal to its due time.",
        )
    },
    "/_sim/clock/set": {
        "post": _clock_op(
            "sim.setClock",
            "Move the clock forward to an instant",
            schemas.CLOCK_SET,
            "Forward only: an instant before the current time is 400 `invalid_data`.",
        )
    },
    "/_sim/clock/step": {
        "post": {
            "operationId": "sim.stepClock",
            "summary": "Move the clock to the next due job and run it",
            "description": "Moves the clock to the due time of the next pending job (or by "
            "`max_seconds`, default 7 days, when none is due sooner) and runs every job due "
            "by then, so a caller can check a condition after each instant something "
            "happens. Answers where the clock is and when the next job is due.",
            "requestBody": request_body(CLOCK_STEP, required=False),
            "responses": ok(CLOCK_STEP_RESULT, "Where the clock is, jobs run, the next due"),
        }
    },
    "/_sim/clock/run-until-idle": {
        "post": _clock_op(
            "sim.runUntilIdle",
            "Run jobs until none is due within max_seconds",
            schemas.CLOCK_RUN_UNTIL_IDLE,
            "Runs jobs one after another (default limit 7 days from now); the clock stops "
            "at the last job run.",
        )
    },
    "/_sim/clock/cancel": {
        "post": {
            "operationId": "sim.cancelClockMove",
            "summary": "Stop the running advance, set or run-until-idle after its current job",
            "description": "The stopped call answers `cancelled: true` with the jobs it ran; "
            "the clock stays at the last job run.",
            "responses": ok(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["cancelled"],
                    "properties": {"cancelled": {"type": "boolean"}},
                },
                "Whether a move was running",
            ),
        }
    },
    "/_sim/clock/mode": {
        "post": _clock_op(
            "sim.setClockMode",
            "Switch between real and manual mode",
            schemas.CLOCK_MODE,
            "The clock continues from its current instant, without a jump.",
        )
    },
}

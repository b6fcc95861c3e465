from __future__ import annotations

from flask import Blueprint

from .. import schemas
from ..clock import ClockError
from ..errors import invalid
from ..http import json_body, runtime, workspace_id
from ..timeutil import DAY, SECOND, iso, parse_iso

bp = Blueprint("sim_clock", __name__, url_prefix="/_sim/clock")

DEFAULT_IDLE_LIMIT_S = 7 * DAY // SECOND


def _result(ws: str, jobs_run: int) -> dict:
    rt = runtime()
    return {"now": iso(rt.now(ws)), "mode": rt.clocks.mode(ws), "jobs_run": jobs_run}


@bp.get("")
def read_clock():
    rt, ws = runtime(), workspace_id()
    return {"mode": rt.clocks.mode(ws), "now": iso(rt.now(ws))}


@bp.post("/advance")
def advance():
    ws = workspace_id()
    body = json_body(schemas.CLOCK_ADVANCE)
    try:
        ran = runtime().scheduler.advance(ws, float(body["seconds"]))
    except ClockError as exc:
        raise invalid(str(exc), "seconds") from None
    return _result(ws, ran)


@bp.post("/set")
def set_now():
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
    return _result(ws, rt.scheduler.advance_to(ws, target))


@bp.post("/run-until-idle")
def run_until_idle():
    ws = workspace_id()
    body = json_body(schemas.CLOCK_RUN_UNTIL_IDLE, optional=True)
    limit_s = body.get("max_seconds", DEFAULT_IDLE_LIMIT_S)
    return _result(ws, runtime().scheduler.run_until_idle(ws, int(limit_s * SECOND)))


@bp.post("/mode")
def set_mode():
    ws = workspace_id()
    body = json_body(schemas.CLOCK_MODE)
    runtime().clocks.set_mode(ws, body["mode"])
    return _result(ws, 0)

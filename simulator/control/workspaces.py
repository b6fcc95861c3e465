from __future__ import annotations

from flask import Blueprint

from .. import schemas, workspaces
from ..http import json_body, runtime, workspace_id
from ..timeutil import iso

bp = Blueprint("sim_workspaces", __name__, url_prefix="/_sim")


def _describe(ws_id: str, api_key: str | None = None) -> dict:
    rt = runtime()
    ws = workspaces.get(rt.store, ws_id)
    body = {
        "id": ws.id,
        "name": ws.name,
        "seed": ws.seed,
        "clock": {"mode": rt.clocks.mode(ws.id), "now": iso(rt.now(ws.id))},
        "default": ws.is_default,
    }
    if api_key is not None:
        body["api_key"] = api_key
    return body


@bp.post("/workspaces")
def create_workspace():
    """Create an isolated workspace; its API key is returned only here."""
    body = json_body(schemas.WORKSPACE_CREATE, optional=True)
    rt = runtime()
    ws, key = workspaces.create(
        rt.store,
        wall_ms=rt.wall(),
        seed=body.get("seed"),
        clock_mode=body.get("clock", rt.config.default_clock),
        name=body.get("name"),
    )
    return _describe(ws.id, key)


@bp.get("/workspace")
def current_workspace():
    return _describe(workspace_id())


@bp.post("/reset")
def reset_workspace():
    """Empty the caller's workspace: objects, jobs and id sequence; the key stays."""
    rt = runtime()
    ws = workspace_id()
    with rt.scheduler.lock(ws):
        workspaces.reset(rt.store, ws, wall_ms=rt.wall())
    return _describe(ws)

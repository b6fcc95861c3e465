"""`/_sim` workspaces: create one, read the caller's, reset it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from simulator.core import naming, workspaces
from simulator.core.timeutil import iso
from simulator.web import schemas
from simulator.web.http import json_body, runtime, workspace_id
from simulator.web.openapi import PUBLIC, ok, request_body

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
        "naming": ws.naming,
        "strict": ws.strict,
        "app_name": ws.app_name,
    }
    if api_key is not None:
        body["api_key"] = api_key
    return body


@bp.post("/workspaces")
def create_workspace() -> dict[str, Any]:
    """Create an isolated workspace; its API key is returned only here."""
    body = json_body(schemas.WORKSPACE_CREATE, optional=True)
    rt = runtime()
    ws, key = workspaces.create(
        rt.store,
        wall_ms=rt.wall(),
        seed=body.get("seed"),
        clock_mode=body.get("clock", rt.config.default_clock),
        name=body.get("name"),
        naming=body.get("naming", naming.DEFAULT),
        strict=body.get("strict", False),
        app_name=body.get("app_name"),
    )
    return _describe(ws.id, key)


@bp.get("/workspace")
def current_workspace() -> dict[str, Any]:
    return _describe(workspace_id())


@bp.patch("/workspace")
def update_workspace() -> dict[str, Any]:
    """Change the caller's workspace settings (the app name of the hosted pages)."""
    body = json_body(schemas.WORKSPACE_UPDATE)
    workspaces.set_app_name(runtime().store, workspace_id(), body["app_name"])
    return _describe(workspace_id())


@bp.post("/reset")
def reset_workspace() -> dict[str, Any]:
    """Empty the caller's workspace: objects, jobs and id sequence; the key stays."""
    rt = runtime()
    ws = workspace_id()
    with rt.scheduler.lock(ws):
        workspaces.reset(rt.store, ws, wall_ms=rt.wall())
        rt.clocks.forget(ws)  # the clock was set back: read it again
        rt.memo.clear()  # the workspace's client registrations are gone
    return _describe(ws)


OPENAPI_PATHS = {
    "/_sim/workspaces": {
        "post": {
            "operationId": "sim.createWorkspace",
            "summary": "Create an isolated workspace (no API key needed)",
            "description": "Returns the workspace with its API key, shown only here. `clock` "
            "defaults to the server's `--clock` mode; `seed` fixes ids and synthetic data; "
            "`naming` (the API generation) and `strict` are fixed for the workspace's life.",
            "security": PUBLIC,
            "requestBody": request_body(schemas.WORKSPACE_CREATE, required=False),
            "responses": ok(schemas.WORKSPACE, "The new workspace and its key"),
        }
    },
    "/_sim/workspace": {
        "get": {
            "operationId": "sim.getWorkspace",
            "description": "The workspace the API key belongs to: id, name, seed, clock and app name (the key itself is never shown again).",
            "summary": "The caller's workspace",
            "responses": ok(schemas.WORKSPACE_INFO, "The workspace"),
        },
        "patch": {
            "operationId": "sim.updateWorkspace",
            "summary": "Change the caller's workspace settings",
            "description": "Sets `app_name`, the name the hosted pages show the patient as "
            "the app asking for their records (null: the host of the session's return_url).",
            "requestBody": request_body(schemas.WORKSPACE_UPDATE),
            "responses": ok(schemas.WORKSPACE_INFO, "The updated workspace"),
        },
    },
    "/_sim/reset": {
        "post": {
            "operationId": "sim.resetWorkspace",
            "summary": "Empty the caller's workspace",
            "description": "Deletes every object and pending job, restarts the id sequence, "
            "ends earlier list cursors and puts the clock back at wall time; the key, seed "
            "and clock mode stay.",
            "responses": ok(schemas.WORKSPACE_INFO, "The emptied workspace"),
        }
    },
}

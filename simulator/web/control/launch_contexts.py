"""`/_sim/launch-contexts`: make a launch context (ready or pending) and make one ready."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from simulator.domain import launch_contexts
from simulator.web.http import json_body, runtime, workspace_id
from simulator.web.openapi import error, ok, path_param, request_body

bp = Blueprint("sim_launch_contexts", __name__, url_prefix="/_sim/launch-contexts")


@bp.post("")
def create_launch_context() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    body = json_body(launch_contexts.CREATE_INPUT)
    return launch_contexts.render(rt, launch_contexts.create(rt, ws, body))


@bp.post("/<id>/ready")
def make_ready(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    body = json_body(launch_contexts.READY_INPUT)
    return launch_contexts.render(rt, launch_contexts.make_ready(rt, ws, id, body))


_CONTEXT = launch_contexts.LAUNCH_CONTEXT
OPENAPI_PATHS = {
    "/_sim/launch-contexts": {
        "post": {
            "operationId": "sim.createLaunchContext",
            "description": "Creates an EHR launch context for a source (simulator extension) with the patient, encounter and user the launch carries.",
            "summary": "Make a launch context for a source: ready (default) or pending",
            "requestBody": request_body(launch_contexts.CREATE_INPUT),
            "responses": ok(_CONTEXT, "The launch context"),
        }
    },
    "/_sim/launch-contexts/{id}/ready": {
        "post": {
            "operationId": "sim.readyLaunchContext",
            "description": "Marks a pending launch context ready, as if the launch's token exchange had happened, and sets its patient.",
            "summary": "The launch's token exchange happened: pending -> ready",
            "parameters": [path_param("id", "The `mb_launch` UUID.")],
            "requestBody": request_body(launch_contexts.READY_INPUT),
            "responses": {**ok(_CONTEXT, "The launch context"), "409": error(409)},
        }
    },
}

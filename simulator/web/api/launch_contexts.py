"""`GET /launch-contexts/{id}`: the context of a clinician's EHR launch (§1.11)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from simulator.domain import launch_contexts
from simulator.web.http import runtime, workspace_id
from simulator.web.openapi import error, ok, path_param

bp = Blueprint("launch_contexts", __name__)


@bp.get("/launch-contexts/<id>")
def get_launch_context(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return launch_contexts.render(rt, launch_contexts.get_row(rt.store, ws, id))


OPENAPI_PATHS = {
    "/launch-contexts/{id}": {
        "get": {
            "operationId": "api.retrieveLaunchContext",
            "summary": "Retrieve a launch context",
            "description": "`pending` until the launch's token exchange, then `ready` with the "
            "patient, encounter and user of the launch.",
            "parameters": [path_param("id", "The `mb_launch` UUID of the launch.")],
            "responses": {
                **ok(launch_contexts.LAUNCH_CONTEXT, "The launch context"),
                "404": error(404),
            },
        }
    }
}

"""`/_sim/api-faults`: make the next N Connect API calls fail on purpose (any documented
error, 503/504, a hang past the client's timeout, or a dropped connection)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from simulator.domain import api_faults
from simulator.web.http import json_body, runtime, workspace_id

bp = Blueprint("sim_api_faults", __name__, url_prefix="/_sim/api-faults")


@bp.post("")
def add_fault() -> dict[str, Any]:
    ws = workspace_id()
    return api_faults.add(runtime(), ws, json_body(api_faults.INPUT))


@bp.get("")
def list_faults() -> dict[str, Any]:
    ws = workspace_id()
    data = api_faults.pending(runtime(), ws)
    return {"resource_type": "list", "data": data, "has_more": False, "next_cursor": None}


@bp.delete("")
def clear_faults() -> dict[str, Any]:
    ws = workspace_id()
    return {"cleared": api_faults.clear(runtime(), ws)}


_LIST = {
    "type": "object",
    "required": ["resource_type", "data", "has_more", "next_cursor"],
    "properties": {
        "resource_type": {"const": "list"},
        "data": {"type": "array", "items": api_faults.FAULT},
        "has_more": {"type": "boolean"},
        "next_cursor": {"type": "null"},
    },
}

OPENAPI_PATHS = {
    "/_sim/api-faults": {
        "post": {
            "operationId": "sim.addApiFault",
            "summary": "Make the next N matching Connect API calls fail",
            "description": "Any documented (`status`, `type`, `code`) of the error catalogue, "
            "or 503/504 (`api_error`); give any of the three and the others follow (a "
            "contradiction is 400 naming the field; `quota_exceeded` needs `type` or "
            "`status`). A 429 carries `Retry-After` (default 1 s). `mode: hang` holds the "
            f"call `hang_seconds` (default {api_faults.DEFAULT_HANG_SECONDS:g}, at most "
            f"{api_faults.MAX_HANG_SECONDS:g}; wall time, ended early by a shutdown) then "
            "answers the error (504 by default); `mode: drop` closes the connection with no "
            "answer. `probability` (0-1) makes each matching call meet the fault only so "
            "often, drawn from the workspace seed. A call that meets a fault is answered "
            "before its handler runs and changes nothing.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": api_faults.INPUT}},
            },
            "responses": {
                "200": {
                    "description": "The fault",
                    "content": {"application/json": {"schema": api_faults.FAULT}},
                }
            },
        },
        "get": {
            "operationId": "sim.listApiFaults",
            "description": "Faults still to fire, in the order they fire; each shows how many times it has left.",
            "summary": "Pending API faults",
            "responses": {
                "200": {
                    "description": "Faults with calls left",
                    "content": {"application/json": {"schema": _LIST}},
                }
            },
        },
        "delete": {
            "operationId": "sim.clearApiFaults",
            "description": "Removes every pending API fault of the caller's workspace; later calls answer normally.",
            "summary": "Clear every API fault of the workspace",
            "responses": {
                "200": {
                    "description": "How many were cleared",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["cleared"],
                                "properties": {"cleared": {"type": "integer"}},
                            }
                        }
                    },
                }
            },
        },
    }
}

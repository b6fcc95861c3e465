"""`/_sim/operations`: clock moves started with `"wait": false`, polled and cancelled."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from simulator.domain import operations
from simulator.web import schemas
from simulator.web.http import runtime, workspace_id
from simulator.web.openapi import LIST_PARAMS, ok, path_param
from simulator.web.schemas import list_of

bp = Blueprint("sim_operations", __name__, url_prefix="/_sim/operations")


@bp.get("")
def list_operations() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return operations.list_page(rt.store, ws, request.args)


@bp.get("/<id>")
def get_operation(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return operations.render(operations.get_row(rt.store, ws, id))


@bp.post("/<id>/cancel")
def cancel_operation(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return operations.render(operations.cancel(rt, ws, id))


_OP_ID = path_param("id", "The `op_` id of the clock operation.")

OPENAPI_PATHS: dict[str, Any] = {
    "/_sim/operations": {
        "get": {
            "operationId": "sim.listOperations",
            "description": "Clock moves started with `wait: false`, newest first, with their status, jobs run and progress.",
            "summary": "The workspace's background clock operations, newest first",
            "parameters": LIST_PARAMS,
            "responses": ok(list_of(schemas.CLOCK_OPERATION), "Clock operations"),
        }
    },
    "/_sim/operations/{id}": {
        "get": {
            "operationId": "sim.getOperation",
            "summary": "Poll a background clock operation",
            "description": "`status` is `running` until the move ends `succeeded`, "
            "`cancelled` or `failed` (`failure_code` `interrupted` when the simulator "
            "stopped while it ran). `jobs_run` and `virtual_time` grow as it goes.",
            "parameters": [_OP_ID],
            "responses": ok(schemas.CLOCK_OPERATION, "The operation"),
        }
    },
    "/_sim/operations/{id}/cancel": {
        "post": {
            "operationId": "sim.cancelOperation",
            "summary": "Cancel a background clock operation after its current job",
            "description": "Answers the operation once it has stopped (`cancelled`, the "
            "clock at the last job run); a finished operation is answered unchanged.",
            "parameters": [_OP_ID],
            "responses": ok(schemas.CLOCK_OPERATION, "The operation"),
        }
    },
}

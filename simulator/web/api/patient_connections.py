"""Disconnecting a patient's connection (the org revokes its access)."""

from __future__ import annotations

from flask import Blueprint

from simulator.core.errors import ApiError, not_found
from simulator.domain import attempts, patients
from simulator.web.api.guard import require_api_key
from simulator.web.http import runtime, workspace_id

bp = Blueprint("patient_connections", __name__)
bp.before_request(require_api_key)


@bp.delete("/patients/<patient_id>/connections/<conn_id>")
def disconnect(patient_id: str, conn_id: str):
    rt, ws = runtime(), workspace_id()
    patients.get_row(rt.store, ws, patient_id)
    row = rt.store.one(
        "SELECT * FROM connections WHERE workspace_id = ? AND patient_id = ? AND id = ?",
        (ws, patient_id, conn_id),
    )
    if row is None:
        raise not_found("connection", conn_id)
    if row["status"] == "disconnected":
        raise ApiError("resource_conflict", f"Connection {conn_id} is already disconnected")
    attempts.disconnect(rt, ws, row)
    return {"id": conn_id, "resource_type": "connection", "disconnected": True}


OPENAPI_PATHS = {
    "/patients/{id}/connections/{connection_id}": {
        "delete": {
            "operationId": "api.disconnectPatientConnection",
            "summary": "Disconnect a patient's connection",
            "description": "Revokes the org's access: the grant is revoked at the portal, the "
            "stored tokens are cleared, pulls and refreshes stop, and the connection becomes "
            "`disconnected`. Records already pulled stay readable.",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "connection_id",
                    "in": "path",
                    "required": True,
                    "description": "The `conn_` id of the authorized link.",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": {
                    "description": "Tombstone",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["id", "resource_type", "disconnected"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "resource_type": {"const": "connection"},
                                    "disconnected": {"const": True},
                                },
                            }
                        }
                    },
                }
            },
        }
    }
}

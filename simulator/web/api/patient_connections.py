"""Disconnecting a patient's connection (the org revokes its access)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from simulator.domain import attempts
from simulator.web.api.guard import require_api_key
from simulator.web.http import runtime, workspace_id

bp = Blueprint("patient_connections", __name__)
bp.before_request(require_api_key)


@bp.delete("/patients/<patient_id>/connections/<conn_id>")
def disconnect(patient_id: str, conn_id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    attempts.disconnect_by_id(rt, ws, patient_id, conn_id)
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

"""`GET /patients/{id}/records`: the FHIR records pulled for a patient."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from simulator.domain import patients, records
from simulator.web.api.guard import require_api_key
from simulator.web.http import runtime, workspace_id

bp = Blueprint("records", __name__)
bp.before_request(require_api_key)


@bp.get("/patients/<patient_id>/records")
def patient_records(patient_id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    patients.get_row(rt.store, ws, patient_id)
    return records.page(rt, ws, patient_id, dict(request.args.items()))


_CURSOR = {"type": "string", "minLength": 12, "maxLength": 12}

OPENAPI_PATHS = {
    "/patients/{id}/records": {
        "get": {
            "operationId": "api.getPatientRecords",
            "summary": "List the FHIR records pulled for a patient",
            "description": "Stable order (first stored first). `has_more`/`next_cursor` look "
            "forward, `previous_cursor` backward; cursors are bound to the patient and the "
            "`type`/`since` filters and stay valid for 7 virtual days.",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "type",
                    "in": "query",
                    "description": "Comma-separated FHIR types, e.g. `Observation,Condition`",
                    "schema": {
                        "type": "string",
                        "pattern": "^[A-Z][A-Za-z]{1,63}(,[A-Z][A-Za-z]{1,63})*$",
                    },
                },
                {
                    "name": "since",
                    "in": "query",
                    "description": "ISO date or date-time: resources changed after it",
                    "schema": {"type": "string"},
                },
                {
                    "name": "count",
                    "in": "query",
                    "description": "How many records per page (1–100, default 100)",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 100},
                },
                {
                    "name": "starting_after",
                    "in": "query",
                    "description": "Cursor: the page after this one (from the previous page)",
                    "schema": _CURSOR,
                },
                {
                    "name": "ending_before",
                    "in": "query",
                    "description": "Cursor: the page before this one",
                    "schema": _CURSOR,
                },
            ],
            "responses": {
                "200": {
                    "description": "A page of records",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": [
                                    "resource_type",
                                    "patient_id",
                                    "data",
                                    "has_more",
                                    "next_cursor",
                                    "previous_cursor",
                                ],
                                "properties": {
                                    "resource_type": {"const": "list"},
                                    "patient_id": {"type": "string"},
                                    "data": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["source", "resource"],
                                            "properties": {
                                                "source": {"type": ["string", "null"]},
                                                "resource": {
                                                    "type": "object",
                                                    "required": ["resourceType"],
                                                },
                                            },
                                        },
                                    },
                                    "has_more": {"type": "boolean"},
                                    "next_cursor": {"type": ["string", "null"]},
                                    "previous_cursor": {"type": ["string", "null"]},
                                },
                            }
                        }
                    },
                }
            },
        }
    }
}

"""Patient sessions under the workspace's naming generation.

The paths of all three generations are routed; each answers only in a workspace of
its generation (C: `/patient-sessions`; B: `/patient-flows`; A: `/sessions`), and is
an unknown route (404) everywhere else.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from simulator.core import naming
from simulator.domain import sessions
from simulator.web import schemas
from simulator.web.api.guard import require_api_key
from simulator.web.http import json_body, require_generation, runtime, workspace_id
from simulator.web.openapi import LIST_PARAMS, error, ok, path_param, query_param, request_body

bp = Blueprint("sessions", __name__)
bp.before_request(require_api_key)


def _create(gen: naming.Generation) -> dict[str, Any]:
    require_generation(gen)
    body = json_body(schemas.PATIENT_SESSION_INIT)
    rt, ws = runtime(), workspace_id()
    session = sessions.create(rt, ws, body, gen)
    return sessions.to_api(rt, ws, session, gen)


def _retrieve(gen: naming.Generation, session_id: str) -> dict[str, Any]:
    require_generation(gen)
    rt, ws = runtime(), workspace_id()
    return sessions.to_api(rt, ws, sessions.get_row(rt.store, ws, session_id), gen)


def _list_for_patient(gen: naming.Generation, patient_id: str) -> dict[str, Any]:
    require_generation(gen)
    rt, ws = runtime(), workspace_id()
    status = request.args.get("status")
    return sessions.list_page(rt, ws, request.args, patient_id=patient_id, status=status, gen=gen)


for _gen in naming.GENERATIONS.values():
    bp.add_url_rule(
        f"/{_gen.path}",
        f"create_{_gen.name}",
        lambda gen=_gen: _create(gen),
        methods=["POST"],
    )
    bp.add_url_rule(
        f"/{_gen.path}/<session_id>",
        f"retrieve_{_gen.name}",
        lambda session_id, gen=_gen: _retrieve(gen, session_id),
        methods=["GET"],
    )
    bp.add_url_rule(
        f"/patients/<patient_id>/{_gen.list_path}",
        f"list_{_gen.name}",
        lambda patient_id, gen=_gen: _list_for_patient(gen, patient_id),
        methods=["GET"],
    )


_OPERATION_IDS = {
    "C": (
        "api.initPatientSession",
        "api.retrievePatientSession",
        "api.listPatientSessionsForPatient",
    ),
    "A": ("api.createSession", "api.getSession", "api.listPatientSessionsA"),
    "B": ("api.initPatientFlow", "api.retrievePatientFlow", "api.listPatientFlows"),
}


DEPRECATION_HEADER = {
    "description": "RFC 9745: generations A and B are deprecated since generation C's "
    f"document (`@{naming.DEPRECATED_SINCE}` = 2026-04-25); on every answer of an A or B "
    "workspace.",
    "schema": {"type": "string", "pattern": "^@[0-9]+$"},
}


def _session_schema(gen: naming.Generation) -> dict:
    """PatientSession with this generation's `resource_type`."""
    return {
        "allOf": [
            schemas.PATIENT_SESSION,
            {"type": "object", "properties": {"resource_type": {"const": gen.resource_type}}},
        ]
    }


def _openapi_paths() -> dict:
    paths: dict = {}
    for gen in naming.GENERATIONS.values():
        create_id, retrieve_id, list_id = _OPERATION_IDS[gen.name]
        alias = gen.deprecated
        note = (
            f" (generation {gen.name}, `{gen.prefix}` ids; only in workspaces with"
            f" `naming: {gen.name}`)"
            if alias
            else ""
        )
        body = _session_schema(gen)
        flag = {"deprecated": True} if alias else {}

        def answers(schema: dict, description: str, alias: bool = alias) -> dict:
            responses = ok(schema, description)
            if alias:
                responses["200"]["headers"] = {"Deprecation": DEPRECATION_HEADER}
            return responses

        paths[f"/{gen.path}"] = {
            "post": {
                "operationId": create_id,
                "summary": "Create a patient session" + note,
                "description": "Picker mode without `connection_id`, Direct mode with it. "
                "The patient is created or updated. The session is `open` until the "
                "patient finishes or `expires_at` passes.",
                **flag,
                "requestBody": request_body(schemas.PATIENT_SESSION_INIT),
                "responses": {**answers(body, "The new session"), "402": error(402)},
            }
        }
        paths[f"/{gen.path}/{{session_id}}"] = {
            "get": {
                "operationId": retrieve_id,
                "description": "The session with its status (`open`, `complete`, `expired`), hosted `url`, `expires_at` and every connection attempt made in it, failures included; an alias answers the same session under its own name and ids.",
                "summary": "Retrieve a patient session" + note,
                **flag,
                "parameters": [path_param("session_id", f"A `{gen.prefix}` session id.")],
                "responses": answers(body, "The session"),
            }
        }
        paths[f"/patients/{{patient_id}}/{gen.list_path}"] = {
            "get": {
                "operationId": list_id,
                "description": "The patient's sessions, newest first, paginated with cursors; an alias lists the same sessions under its own name and ids.",
                "summary": "List a patient's sessions, newest first" + note,
                **flag,
                "parameters": [
                    path_param("patient_id"),
                    *LIST_PARAMS,
                    query_param(
                        "status", {"enum": schemas.SESSION_STATUS}, "Only sessions in this status."
                    ),
                ],
                "responses": answers(schemas.list_of(body), "A page of sessions"),
            }
        }
    return paths


OPENAPI_PATHS = _openapi_paths()

"""Patient sessions, served under the three naming generations (C canonical, A and B aliases)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from simulator.domain import sessions
from simulator.web import schemas
from simulator.web.api.guard import require_api_key
from simulator.web.http import json_body, runtime, workspace_id
from simulator.web.openapi import LIST_PARAMS, error, ok, path_param, query_param, request_body

bp = Blueprint("sessions", __name__)
bp.before_request(require_api_key)


def _create(gen: sessions.Generation) -> dict[str, Any]:
    body = json_body(schemas.PATIENT_SESSION_INIT)
    rt, ws = runtime(), workspace_id()
    session = sessions.create(rt, ws, body, gen)
    return sessions.to_api(rt, ws, session, gen)


def _retrieve(gen: sessions.Generation, session_id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return sessions.to_api(rt, ws, sessions.get_row(rt.store, ws, session_id), gen)


def _list_for_patient(gen: sessions.Generation, patient_id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    status = request.args.get("status")
    return sessions.list_page(rt, ws, request.args, patient_id=patient_id, status=status, gen=gen)


for _gen in sessions.GENERATIONS.values():
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


def _session_schema(gen: sessions.Generation) -> dict:
    """PatientSession with this generation's `resource_type`."""
    return {
        "allOf": [
            schemas.PATIENT_SESSION,
            {"type": "object", "properties": {"resource_type": {"const": gen.resource_type}}},
        ]
    }


def _openapi_paths() -> dict:
    paths: dict = {}
    for gen in sessions.GENERATIONS.values():
        create_id, retrieve_id, list_id = _OPERATION_IDS[gen.name]
        alias = gen is not sessions.CANONICAL
        note = f" (generation {gen.name} alias, `{gen.prefix}` ids)" if alias else ""
        body = _session_schema(gen)
        flag = {"deprecated": True} if alias else {}
        paths[f"/{gen.path}"] = {
            "post": {
                "operationId": create_id,
                "summary": "Create a patient session" + note,
                "description": "Picker mode without `connection_id`, Direct mode with it. "
                "The patient is created or updated. The session is `open` until the "
                "patient finishes or `expires_at` passes.",
                **flag,
                "requestBody": request_body(schemas.PATIENT_SESSION_INIT),
                "responses": {**ok(body, "The new session"), "402": error(402)},
            }
        }
        paths[f"/{gen.path}/{{session_id}}"] = {
            "get": {
                "operationId": retrieve_id,
                "description": "The session with its status (`open`, `complete`, `expired`), hosted `url`, `expires_at` and every connection attempt made in it, failures included; an alias answers the same session under its own name and ids.",
                "summary": "Retrieve a patient session" + note,
                **flag,
                "parameters": [path_param("session_id", "A session id of any generation.")],
                "responses": ok(body, "The session"),
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
                "responses": ok(schemas.list_of(body), "A page of sessions"),
            }
        }
    return paths


OPENAPI_PATHS = _openapi_paths()

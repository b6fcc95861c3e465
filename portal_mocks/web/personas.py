"""Bring-your-own patients: `/_sim/personas` (the caller's workspace from its API key).

- `POST /_sim/personas` `{"username", "bundle", "portals"?}`: a FHIR R4 Bundle
  (collection, transaction or batch, as Synthea writes them) served to that login at
  every portal, or at the chosen ones; the same username again replaces it.
- `GET /_sim/personas`, `GET /_sim/personas/{username}`, `DELETE /_sim/personas/{username}`.

Mounted beside the portals' other control routes in the simulator and in
`connect-sim portals`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from portal_mocks import profiles, uploads
from simulator.core.errors import invalid, not_found
from simulator.core.webkit import json_body, ok, path_param, request_body, runtime, workspace_id

bp = Blueprint("sim_personas", __name__, url_prefix="/_sim")

# An uploaded record may be larger than other request bodies (Synthea writes megabytes).
UPLOAD_MAX_BYTES = 32 * 1024 * 1024

UPLOAD_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["username", "bundle"],
    "properties": {
        "username": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "The login at the portals (lowercase letters, digits, '.', '_', '-')",
        },
        "bundle": {
            "type": "object",
            "description": "A FHIR R4 Bundle of type collection, transaction or batch",
        },
        "portals": {
            "type": ["array", "null"],
            "items": {"type": "string", "enum": list(profiles.PORTALS)},
            "minItems": 1,
            "description": "Portal slugs serving the persona (default: every portal)",
        },
    },
}
PERSONA: dict[str, Any] = {
    "type": "object",
    "required": ["object", "username", "patient_id", "portals", "resources", "counts"],
    "properties": {
        "object": {"const": "persona"},
        "username": {"type": "string"},
        "patient_id": {"type": "string", "description": "The Patient's id at the portals"},
        "portals": {"type": "array", "items": {"type": "string"}},
        "resources": {"type": "integer"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "skipped": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "Resources left out: no chosen portal serves their type",
        },
        "created_at": {"type": "string", "format": "date-time"},
        "replaced": {"type": "boolean"},
    },
}
PERSONA_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": PERSONA}},
}
DELETED: dict[str, Any] = {
    "type": "object",
    "required": ["deleted"],
    "properties": {"deleted": {"type": "integer"}},
}


@bp.post("/personas")
def upload() -> dict[str, Any]:
    request.max_content_length = UPLOAD_MAX_BYTES
    rt, ws = runtime(), workspace_id()
    body = json_body(UPLOAD_INPUT)
    try:
        stored, replaced = uploads.store(
            rt, ws, body["username"], body["bundle"], body.get("portals")
        )
    except uploads.UsernameError as exc:
        raise invalid(str(exc), "username") from None
    except uploads.BundleError as exc:
        raise invalid(str(exc), exc.param) from None
    return {**stored.to_api(), "replaced": replaced}


@bp.get("/personas")
def list_personas() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return {"object": "list", "data": [u.to_api() for u in uploads.list_all(rt, ws)]}


@bp.get("/personas/<username>")
def get_persona(username: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    found = uploads.get(rt, ws, username)
    if found is None:
        raise not_found("persona", username, "username")
    return found.to_api()


@bp.delete("/personas/<username>")
def delete_persona(username: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    if not uploads.delete(rt, ws, username):
        raise not_found("persona", username, "username")
    return {"deleted": 1}


_USERNAME = path_param("username", "The uploaded persona's username")

OPENAPI_PATHS: dict[str, Any] = {
    "/_sim/personas": {
        "post": {
            "operationId": "sim.uploadPersona",
            "summary": "Bring your own patient: a FHIR Bundle served to one login",
            "description": "Checks the Bundle (collection, transaction or batch; R4 resource "
            "types; well-formed ids and references; exactly one Patient), assigns ids as a "
            "FHIR server would (`urn:uuid:` fullUrls and references become `Type/id`) and "
            "serves it to `username` (any password but `wrong`) at every portal or at "
            "`portals`, with the search and paging of the built-in personas. The first bad "
            "resource is named by entry index and `Type/id` in a 400. The same username "
            "again replaces the upload.",
            "requestBody": request_body(UPLOAD_INPUT),
            "responses": ok(PERSONA, "The stored persona"),
        },
        "get": {
            "operationId": "sim.listPersonas",
            "summary": "This workspace's uploaded personas",
            "description": "Every persona uploaded to this workspace, with its username, the "
            "portals that serve it and its resource counts (the resources themselves are "
            "read through the portals' FHIR APIs).",
            "responses": ok(PERSONA_LIST, "Uploaded personas"),
        },
    },
    "/_sim/personas/{username}": {
        "parameters": [_USERNAME],
        "get": {
            "operationId": "sim.getPersona",
            "summary": "One uploaded persona",
            "description": "The persona uploaded under this username: its portals, its Patient "
            "id and its resource counts. 404 when no upload has that username.",
            "responses": ok(PERSONA, "The persona"),
        },
        "delete": {
            "operationId": "sim.deletePersona",
            "summary": "Remove an uploaded persona",
            "description": "Deletes the upload and its resources: the login stops working at "
            "every portal that served it.",
            "responses": ok(DELETED, "Removed"),
        },
    },
}

"""The headless patient: control-plane calls that drive the hosted pages over HTTP.

Each call acts as the patient's browser would (see simulator/patient.py),
so what it causes is exactly what a real browser would cause.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint

from simulator.clients import patient
from simulator.core.errors import invalid
from simulator.domain import connections, outside_sources, sessions
from simulator.domain.sessions import Session
from simulator.web.http import json_body, runtime, workspace_id

bp = Blueprint("sim_patient", __name__, url_prefix="/_sim/patient-sessions")

CONNECT_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["username"],
    "properties": {
        "source": {
            "type": "string",
            "description": "`fhirsrc_` id (Picker mode; optional in Direct)",
        },
        "username": {
            "description": "A persona (`alice`, `bob`, …) with optional faults (`alice+deny`)",
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
        },
        "password": {
            "description": "Any password except `wrong`",
            "type": "string",
            "maxLength": 200,
        },
        "consent": {
            "description": "`approve` (default) or `deny` at the portal's consent page",
            "enum": ["approve", "deny"],
        },
        "linger_seconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": 86400,
            "description": "Virtual seconds the patient waits on the portal's login page before"
            " signing in (the clock advances, running what falls due)",
        },
    },
}
ABANDON_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "source": {
            "description": "`fhirsrc_` id to open before leaving (Picker mode)",
            "type": "string",
        }
    },
}


def _result(ws: str, session_id: str, result: patient.Result, **extra: Any) -> dict[str, Any]:
    rt = runtime()
    session = sessions.get_row(rt.store, ws, session_id)
    return {
        **extra,
        "location": result.location,
        "stopped_at": result.stopped_at,
        "status_code": result.status,
        "session": sessions.to_api(rt, ws, session),
    }


def _source_id(body: dict[str, Any], session: Session) -> str | None:
    ident = body.get("source")
    if ident is None:
        return None
    source = outside_sources.catalog(runtime(), session.workspace_id).get(ident)
    if source is None:
        raise invalid(f"No source '{ident}' in the catalog", "source")
    if session.connection_id is not None and source.id != session.connection_id:
        raise invalid("This Direct-mode session connects only its own source", "source")
    return source.id


def _portal_origin(ws: str, source_id: str | None, session: Session) -> str | None:
    """The origin of an outside SMART server the patient signs in at (None for our portals)."""
    ident = source_id or session.connection_id
    source = outside_sources.catalog(runtime(), ws).get(ident) if ident else None
    if source is None or not source.outside:
        return None
    return patient.origin_of(source.fhir_base_url)


def _linger(ws: str, seconds: int) -> Callable[[], None] | None:
    """What the patient does on reaching the portal's login page: wait `seconds` of the clock."""
    if not seconds:
        return None
    return lambda: runtime().scheduler.advance(ws, seconds)


@bp.post("/<session_id>/connect")
def connect(session_id: str) -> dict[str, Any]:
    """Open the link, choose the source, log in as `username`, approve or deny."""
    ws = workspace_id()
    body = json_body(CONNECT_INPUT)
    rt = runtime()
    session = sessions.get_row(rt.store, ws, session_id)
    source_id = _source_id(body, session)
    if source_id is None and session.connection_id is None:
        raise invalid("Picker-mode sessions need 'source' (a fhirsrc_ id)", "source")
    before = connections.last_seq(rt.store, ws, session_id)
    result = patient.connect(
        sessions.hosted_url(rt, session.token),
        source_id=source_id,
        username=body["username"],
        password=body.get("password", "password"),
        consent=body.get("consent", "approve"),
        timeout=max(rt.config.http_timeout * 2, 10.0),
        session=rt.browser_session(),
        at_portal=_linger(ws, body.get("linger_seconds", 0)),
        portal_origin=_portal_origin(ws, source_id, session),
    )
    connection = connections.settled_since(rt.store, ws, session_id, before)
    return _result(ws, session_id, result, connection=connection)


@bp.post("/<session_id>/done")
def done(session_id: str) -> dict[str, Any]:
    """Press Done on the completion screen; answers the URL the browser reaches."""
    ws = workspace_id()
    rt = runtime()
    session = sessions.get_row(rt.store, ws, session_id)
    result = patient.done(sessions.hosted_url(rt, session.token), session=rt.browser_session())
    return_url = result.location if result.stopped_at == "return_url" else None
    return _result(ws, session_id, result, return_url=return_url)


@bp.post("/<session_id>/abandon")
def abandon(session_id: str) -> dict[str, Any]:
    """Open the link (and the portal's login page when a source is given), then walk away."""
    ws = workspace_id()
    body = json_body(ABANDON_INPUT, optional=True)
    rt = runtime()
    session = sessions.get_row(rt.store, ws, session_id)
    source_id = _source_id(body, session)
    result = patient.open_portal(
        sessions.hosted_url(rt, session.token),
        source_id=source_id,
        session=rt.browser_session(),
        portal_origin=_portal_origin(ws, source_id, session),
    )
    return _result(ws, session_id, result)


_RESULT = {
    "type": "object",
    "required": ["location", "stopped_at", "status_code", "session"],
    "properties": {
        "location": {"type": "string"},
        "stopped_at": {"enum": ["return_url", "completion", "portal", "hosted_page"]},
        "status_code": {"type": "integer"},
        "session": {"type": "object"},
        "connection": {"type": ["object", "null"]},
        "return_url": {"type": ["string", "null"]},
    },
}


def _op(
    op_id: str, summary: str, schema: dict[str, Any] | None, *, required: bool = False
) -> dict[str, Any]:
    op = {
        "operationId": op_id,
        "summary": summary,
        "description": DESCRIPTIONS[op_id],
        "tags": ["control plane"],
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {
            "200": {
                "description": "Where the patient's browser ended",
                "content": {"application/json": {"schema": _RESULT}},
            }
        },
    }
    if schema is not None:
        op["requestBody"] = {
            "required": required,
            "content": {"application/json": {"schema": schema}},
        }
    return op


DESCRIPTIONS = {
    "sim.patientConnect": "The headless patient opens the hosted link, chooses the source (Picker mode), signs in at the portal with `username` and approves or denies consent; answers where the patient stopped and the attempt's connection entry.",
    "sim.patientDone": "The headless patient presses Done on the completion screen (Picker mode): the session completes and the patient is sent to the return URL.",
    "sim.patientAbandon": "The headless patient opens the session link (and the portal's login page) and walks away; the attempt stays pending until it expires.",
}

OPENAPI_PATHS = {
    "/_sim/patient-sessions/{id}/connect": {
        "post": _op(
            "sim.patientConnect", "Headless patient: connect a source", CONNECT_INPUT, required=True
        )
    },
    "/_sim/patient-sessions/{id}/done": {
        "post": _op("sim.patientDone", "Headless patient: press Done", None)
    },
    "/_sim/patient-sessions/{id}/abandon": {
        "post": _op(
            "sim.patientAbandon", "Headless patient: open the link and leave", ABANDON_INPUT
        )
    },
}

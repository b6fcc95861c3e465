"""Control plane for connections: see everything, force a refresh failure, pull now."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from simulator.core.errors import ApiError
from simulator.core.store import loads
from simulator.core.timeutil import iso
from simulator.domain import attempts, connections, keepalive, pulls
from simulator.domain.connections import Connection
from simulator.domain.pulls import Pull
from simulator.web.http import runtime, workspace_id

bp = Blueprint("sim_connections", __name__, url_prefix="/_sim/connections")


def _pull_view(pull: Pull | None) -> dict[str, Any] | None:
    if pull is None:
        return None
    return {
        "id": pull.pull_id,
        "reason": pull.reason,
        "status": pull.status,
        "started_at": iso(pull.started_ms),
        "finished_at": iso(pull.finished_ms),
        "total": pull.total,
        "errors": loads(pull.errors, []),
        "error_message": pull.error_message,
    }


def describe(ws: str, conn: Connection) -> dict[str, Any]:
    """Everything a tester wants to see about a connection; token values are redacted."""
    rt = runtime()
    tokens = attempts.tokens_of(rt, ws, conn.attempt_id)
    jobs = [
        job
        for key in (keepalive.job_key(conn.attempt_id), pulls.job_key(conn.attempt_id))
        for job in rt.scheduler.pending(ws, key=key)
    ]
    return {
        **connections.patient_item(conn),
        "tokens": None
        if tokens is None
        else {
            "access_token": "[redacted]" if tokens.access_token else None,
            "refresh_token": "[redacted]" if tokens.refresh_token else None,
            "access_expires_at": iso(tokens.access_expires_ms),
            "scope": tokens.scope,
            "portal_patient": tokens.portal_patient,
            "refresh_count": tokens.refresh_count,
            "last_refresh_error": tokens.last_refresh_error,
        },
        "last_pull": _pull_view(pulls.last_pull(rt, ws, conn.attempt_id)),
        "scheduled": sorted(
            [{"kind": j.kind, "due_at": iso(j.due_ms)} for j in jobs], key=lambda j: j["due_at"]
        ),
    }


@bp.get("/<conn_id>")
def get_connection(conn_id: str) -> dict[str, Any]:
    ws = workspace_id()
    return describe(ws, connections.get(runtime().store, ws, conn_id))


@bp.post("/<conn_id>/refresh-failure")
def refresh_failure(conn_id: str) -> dict[str, Any]:
    """The grant is revoked at the portal now; the refresh tried at once is rejected."""
    rt, ws = runtime(), workspace_id()
    conn = connections.get_active(rt.store, ws, conn_id)
    tokens = attempts.tokens_of(rt, ws, conn.attempt_id)
    if tokens is None or not tokens.refresh_token:
        raise ApiError("resource_conflict", f"Connection {conn_id} has no refresh token")
    keepalive.revoke_and_refresh(rt, ws, conn)
    return describe(ws, connections.get(rt.store, ws, conn_id))


@bp.post("/<conn_id>/pull")
def pull_now(conn_id: str) -> dict[str, Any]:
    """Start a pull now (it runs before this call answers)."""
    rt, ws = runtime(), workspace_id()
    conn = connections.get_active(rt.store, ws, conn_id)
    pulls.start(rt, ws, conn.attempt_id, reason="manual")
    rt.scheduler.try_run_due(ws)
    return describe(ws, connections.get(rt.store, ws, conn_id))


_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
_VIEW = {
    "200": {
        "description": "The connection with token expiry, last pull and scheduled work",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["id", "status", "tokens", "last_pull", "scheduled"],
                }
            }
        },
    }
}
OPENAPI_PATHS = {
    "/_sim/connections/{id}": {
        "get": {
            "operationId": "sim.getConnection",
            "description": "Simulator view of one `conn_` connection: token expiry (token values redacted), refresh count, the last pull and the jobs scheduled for it.",
            "summary": "Inspect a connection",
            "tags": ["control plane"],
            "parameters": _ID,
            "responses": _VIEW,
        }
    },
    "/_sim/connections/{id}/refresh-failure": {
        "post": {
            "operationId": "sim.refreshFailure",
            "description": "Makes the portal revoke the connection's grant and runs the refresh now: the connection becomes `refresh_failed` and `connection.token_refresh_failed` is sent.",
            "summary": "The portal revokes the grant now; the refresh fails",
            "tags": ["control plane"],
            "parameters": _ID,
            "responses": _VIEW,
        }
    },
    "/_sim/connections/{id}/pull": {
        "post": {
            "operationId": "sim.pullNow",
            "description": "Runs the connection's background pull at once instead of waiting for the next 24-hour pull; answers the pull's result.",
            "summary": "Pull records now",
            "tags": ["control plane"],
            "parameters": _ID,
            "responses": _VIEW,
        }
    },
}

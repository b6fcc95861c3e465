"""RFC 7591 dynamic client registration.

A registration sent with `Authorization: Bearer <token>` belongs to the
workspace the token names (its clock, seed and faults): the token is the
workspace's API key or its registration token (the RFC 7591 initial access
token the simulator sends for its own app). One sent without belongs to the
default workspace and may name only loopback (or this server's) redirect URIs.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from portal_mocks import clients
from portal_mocks.web.common import json_response, portal, runtime
from simulator.core import workspaces

bp = Blueprint("portal_registration", __name__, url_prefix="/<slug>")


def _error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status)


@bp.post("/register")
def register() -> Response:
    rt = runtime()
    ws_id, anonymous = rt.default_workspace.id, True
    header = request.headers.get("Authorization", "").strip()
    if header:
        scheme, _, key = header.partition(" ")
        key = key.strip()
        ws = (
            workspaces.by_key(rt.store, key) or workspaces.by_registration_token(rt.store, key)
            if scheme.lower() == "bearer"
            else None
        )
        if ws is None:
            resp = _error(
                "invalid_token",
                "The bearer token is not a workspace API key or registration token",
                401,
            )
            resp.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return resp
        ws_id, anonymous = ws.id, False
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error("invalid_client_metadata", "The body must be a JSON object")
    try:
        client = clients.register(rt, ws_id, portal().slug, body, anonymous=anonymous)
    except clients.RegistrationError as err:
        return _error(err.error, err.description)
    return json_response(client.registration_response(), 201)

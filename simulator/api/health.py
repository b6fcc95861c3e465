"""`GET /health`: liveness, no API key needed."""

from __future__ import annotations

from flask import Blueprint

from .. import schemas
from ..http import runtime
from ..openapi import PUBLIC, ok
from ..timeutil import iso

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    return {"ok": True, "server_time": iso(runtime().wall())}


OPENAPI_PATHS = {
    "/health": {
        "get": {
            "operationId": "api.health",
            "summary": "Health check (no API key needed)",
            "security": PUBLIC,
            "responses": ok(schemas.HEALTH),
        }
    }
}

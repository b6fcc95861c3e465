"""`GET /health`: liveness, no API key needed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from simulator.core.timeutil import iso
from simulator.web import schemas
from simulator.web.http import runtime
from simulator.web.openapi import PUBLIC, ok

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> dict[str, Any]:
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

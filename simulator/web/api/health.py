"""`GET /health`: no API key needed; 503 when the database is unusable."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from simulator.core.errors import ApiError
from simulator.core.timeutil import iso
from simulator.web import schemas
from simulator.web.http import runtime
from simulator.web.openapi import PUBLIC, error, ok

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> dict[str, Any]:
    rt = runtime()
    problem = rt.store.health()
    if problem is not None:
        raise ApiError("db_error", f"The simulator's database is unusable: {problem}", status=503)
    return {"ok": True, "server_time": iso(rt.wall())}


OPENAPI_PATHS = {
    "/health": {
        "get": {
            "operationId": "api.health",
            "description": "Answers 200 while the server and its database work, 503 when the database does not.",
            "summary": "Health check (no API key needed)",
            "security": PUBLIC,
            "responses": {**ok(schemas.HEALTH), "503": error(503)},
        }
    }
}

"""`GET /openapi.json`: the OpenAPI 3.1 document of the Connect API and the control plane."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from simulator.web.openapi import PUBLIC, build, ok

bp = Blueprint("openapi_doc", __name__)


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(build(current_app))


OPENAPI_PATHS = {
    "/openapi.json": {
        "get": {
            "operationId": "sim.openapi",
            "description": "The OpenAPI 3.1 document of every route this server answers, built from the declarations next to each route.",
            "summary": "This OpenAPI document",
            "security": PUBLIC,
            "tags": ["Connect API"],
            "responses": ok(
                {"type": "object", "required": ["openapi", "info", "paths"]},
                "The OpenAPI 3.1 document",
            ),
        }
    }
}

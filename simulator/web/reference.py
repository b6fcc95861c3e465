"""`GET /docs`: the API reference, rendered from `/openapi.json` by Swagger UI.

Swagger UI's files come from the `flask-swagger-ui` package and are served from
here under `/docs/assets/`, so the page works offline and loads nothing from
another origin. The page also lists every operation server-side, which is what
a browser without JavaScript shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Blueprint, current_app, render_template, send_from_directory
from werkzeug.wrappers import Response

from simulator.web.openapi import METHODS, PUBLIC, build

ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"
# Only what the page loads; anything else under /docs/assets/ is 404.
ASSET_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")

bp = Blueprint("reference", __name__)


def operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's operations grouped by tag, in the document's tag order."""
    groups: dict[str, list[dict[str, Any]]] = {t["name"]: [] for t in doc.get("tags", [])}
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            tag = (op.get("tags") or ["Other"])[0]
            groups.setdefault(tag, []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "id": op.get("operationId", ""),
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                }
            )
    return [{"tag": tag, "operations": ops} for tag, ops in groups.items() if ops]


@bp.get("/docs")
def reference_page() -> str:
    doc = build(current_app)
    return render_template(
        "reference/docs.html",
        info=doc["info"],
        groups=operations(doc),
        count=sum(len(item) for item in doc["paths"].values()),
    )


@bp.get("/docs/assets/<name>")
def reference_asset(name: str) -> Response:
    if name not in ASSET_FILES:
        return Response("not found", status=404, mimetype="text/plain")
    return send_from_directory(ASSETS, name, max_age=3600)


def _page(description: str) -> dict[str, Any]:
    return {
        "200": {
            "description": description,
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    }


OPENAPI_PATHS = {
    "/docs": {
        "get": {
            "operationId": "sim.docs",
            "summary": "This API reference as a web page",
            "description": "Swagger UI rendering `/openapi.json`, served with its files from "
            "this server (nothing loads from elsewhere). Without JavaScript the page lists "
            "every operation with its summary and description.",
            "security": PUBLIC,
            "tags": ["Reference"],
            "responses": _page("The reference page"),
        }
    },
    "/docs/assets/{name}": {
        "get": {
            "operationId": "sim.docsAsset",
            "summary": "A file of the reference page (Swagger UI's script and stylesheet)",
            "description": "Served from the installed `flask-swagger-ui` package; other "
            "names are 404.",
            "security": PUBLIC,
            "tags": ["Reference"],
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "description": "The file name, one of " + ", ".join(ASSET_FILES),
                    "schema": {"type": "string", "enum": list(ASSET_FILES)},
                }
            ],
            "responses": {
                "200": {
                    "description": "The file",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "404": {"description": "Not a file of the page"},
            },
        }
    },
}

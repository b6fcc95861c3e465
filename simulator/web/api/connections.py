"""The connections catalog (FhirSource entries)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from flask import Blueprint, request

from simulator.core.errors import not_found
from simulator.core.pagination import page_of_items
from simulator.domain import outside_sources
from simulator.web import schemas
from simulator.web.api.guard import require_api_key
from simulator.web.http import runtime, workspace_id
from simulator.web.openapi import LIST_PARAMS, ok, path_param, query_param

bp = Blueprint("connections", __name__)
bp.before_request(require_api_key)


@bp.get("/connections")
def list_sources() -> dict[str, Any]:
    rt = runtime()
    catalog = outside_sources.catalog(rt, workspace_id())
    q = request.args.get("q")
    found = catalog.search(q=q.strip() if q else None, type_=request.args.get("type"))
    items = [s.to_api() for s in found]
    kind = f"sources:{q or ''}:{request.args.get('type') or ''}"
    return page_of_items(items, kind=kind, args=request.args)


@bp.get("/connections/<path:source_id>")
def get_source(source_id: str) -> dict[str, Any]:
    catalog = outside_sources.catalog(runtime(), workspace_id())
    source = catalog.get(source_id) or catalog.get(unquote(source_id))
    if source is None:
        raise not_found("connection", source_id)
    return source.to_api()


OPENAPI_PATHS = {
    "/connections": {
        "get": {
            "operationId": "api.listFhirSources",
            "description": "The sources a patient can connect (`fhirsrc_` ids), filtered by `q` (name contains, at least 2 characters) and paginated with cursors.",
            "summary": "Search the catalog of sources, ordered by name",
            "parameters": [
                *LIST_PARAMS,
                query_param(
                    "q", {"type": "string"}, "Case-insensitive substring of the source name."
                ),
                query_param("type", {"type": "string"}, "Vendor, e.g. `epic`."),
            ],
            "responses": ok(schemas.list_of(schemas.FHIR_SOURCE), "A page of sources"),
        }
    },
    "/connections/{source_id}": {
        "get": {
            "operationId": "api.getFhirSource",
            "description": "One source of the catalog by its `fhirsrc_` id or by its `fhir_base_url`.",
            "summary": "Retrieve a source",
            "parameters": [
                path_param("source_id", "A `fhirsrc_` id or the source's raw `fhir_base_url`.")
            ],
            "responses": ok(schemas.FHIR_SOURCE, "The source"),
        }
    },
}

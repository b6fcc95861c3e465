"""The connections catalog (FhirSource entries)."""

from __future__ import annotations

from urllib.parse import unquote

from flask import Blueprint, request

from ..errors import not_found
from ..http import runtime, workspace_id
from ..pagination import page_of_items
from .guard import require_api_key

bp = Blueprint("connections", __name__)
bp.before_request(require_api_key)


@bp.get("/connections")
def list_sources():
    rt = runtime()
    workspace_id()
    q = request.args.get("q")
    found = rt.catalog.search(q=q.strip() if q else None, type_=request.args.get("type"))
    items = [s.to_api() for s in found]
    kind = f"sources:{q or ''}:{request.args.get('type') or ''}"
    return page_of_items(items, kind=kind, args=request.args)


@bp.get("/connections/<path:source_id>")
def get_source(source_id: str):
    rt = runtime()
    workspace_id()
    source = rt.catalog.get(source_id) or rt.catalog.get(unquote(source_id))
    if source is None:
        raise not_found("connection", source_id)
    return source.to_api()

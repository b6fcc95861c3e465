"""`/_sim/sources`: bring your own portal, an outside SMART server in this workspace's catalog.

- `POST /_sim/sources` `{"name", "fhir_base_url", "client_id", "client_secret"?, "scope"?,
  "type"?, "kind"?}`: the server's client registered by you; no `client_secret` (or null)
  is a public client. Answers the source (never the secret); its `id` is a `fhirsrc_` id
  for sessions, the Picker and `GET /connections`.
- `GET /_sim/sources`, `GET /_sim/sources/{id}`: this workspace's outside sources.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from simulator.domain import outside_sources
from simulator.web.http import json_body, runtime, workspace_id
from simulator.web.openapi import ok, path_param, request_body

bp = Blueprint("sim_sources", __name__, url_prefix="/_sim/sources")

TEXT = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}

SOURCE_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "fhir_base_url", "client_id"],
    "properties": {
        "name": {**TEXT, "description": "The name patients see in the Picker"},
        "fhir_base_url": {
            "type": "string",
            "minLength": 1,
            "maxLength": 2000,
            "description": "The FHIR base; discovery is read at"
            " `[fhir_base_url]/.well-known/smart-configuration`. https, or http for"
            " localhost and loopback addresses.",
        },
        "client_id": {**TEXT, "description": "The client id registered at that server"},
        "client_secret": {
            "type": ["string", "null"],
            "minLength": 1,
            "maxLength": 500,
            "description": "Confidential client (client_secret_basic); absent or null: public",
        },
        "scope": {
            "type": ["string", "null"],
            "minLength": 1,
            "maxLength": 2000,
            "description": "Scopes to ask for (default: the simulator's usual scopes)",
        },
        "type": {
            "type": ["string", "null"],
            "minLength": 1,
            "maxLength": 64,
            "description": "The vendor or platform label shown beside the name (optional)",
        },
        "kind": {
            "enum": list(outside_sources.KINDS),
            "description": "What kind of organisation the source is, as in the catalog",
        },
    },
}
SOURCE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "resource_type", "name", "fhir_base_url", "client_id", "client_type"],
    "properties": {
        "id": {"type": "string"},
        "resource_type": {"const": "fhir_source"},
        "name": {"type": "string"},
        "type": {"type": ["string", "null"]},
        "kind": {"type": "string"},
        "fhir_base_url": {"type": "string"},
        "logo_url": {"type": ["string", "null"]},
        "portal_url": {"type": ["string", "null"]},
        "client_id": {"type": "string"},
        "client_type": {"enum": ["public", "confidential"]},
        "scope": {"type": "string"},
        "discovery_url": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
SOURCE_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": SOURCE}},
}


@bp.post("")
def add_source() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    body = json_body(SOURCE_INPUT)
    return outside_sources.create(rt, ws, body).to_api()


@bp.get("")
def list_sources() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return {"object": "list", "data": [s.to_api() for s in outside_sources.list_all(rt, ws)]}


@bp.get("/<source_id>")
def get_source(source_id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return outside_sources.get(rt, ws, source_id).to_api()


OPENAPI_PATHS = {
    "/_sim/sources": {
        "post": {
            "operationId": "sim.addSource",
            "summary": "Bring your own portal: an outside SMART server in this workspace's catalog",
            "description": "The simulator's SMART client then reads its discovery, sends the "
            "patient to its authorize endpoint, exchanges, refreshes and pulls there as at its "
            "own portals, with this client (no dynamic registration). The secret is never "
            "shown again.",
            "requestBody": request_body(SOURCE_INPUT),
            "responses": ok(SOURCE, "The source"),
        },
        "get": {
            "operationId": "sim.listSources",
            "summary": "This workspace's outside sources",
            "description": "Every outside SMART server added to this workspace's catalog, "
            "with its FHIR base URL, client id and scope; client secrets are never shown.",
            "responses": ok(SOURCE_LIST, "Outside sources"),
        },
    },
    "/_sim/sources/{id}": {
        "get": {
            "operationId": "sim.getSource",
            "summary": "One outside source",
            "description": "An outside source by its `fhirsrc_` id, as listed in the catalog; "
            "404 for an id this workspace did not add.",
            "parameters": [path_param("id", "A `fhirsrc_` id")],
            "responses": ok(SOURCE, "The source"),
        }
    },
}

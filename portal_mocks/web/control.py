"""The portals' control plane: their failure catalog, the portals, faults per workspace.

Mounted at the root of the simulator's app and of `connect-sim portals` alike, with the
same URLs, the Connect error envelope and the caller's workspace from its API key.

- `GET /_sim/faults/catalog` (no auth): every named fault, where it fires, what it causes.
- `GET /_sim/portals` (no auth): the portals, their vendor flavour and login personas.
- `POST /_sim/portals/{slug}/faults`: `{"fault", "arg"?, "times"?, "probability"?, "at"?}`
  applies to every login and grant of the caller's workspace at that portal.
- `GET /_sim/portals/{slug}/faults`: the workspace's faults there (with fired counts).
- `DELETE /_sim/portals/{slug}/faults` clears them; `DELETE .../faults/{fault_id}` one of them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

import portal_mocks
from portal_mocks import faults, personas, profiles
from simulator.core.errors import invalid, not_found
from simulator.core.timeutil import parse_iso
from simulator.core.webkit import (
    PUBLIC,
    json_body,
    ok,
    path_param,
    request_body,
    runtime,
    workspace_id,
)

bp = Blueprint("sim_faults", __name__, url_prefix="/_sim")

FAULT_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["fault"],
    "properties": {
        "fault": {
            "description": "A fault name from GET /_sim/faults/catalog",
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
        },
        "arg": {
            "description": "The fault's argument, where it takes one",
            "type": ["string", "number", "integer", "null"],
        },
        "times": {
            "description": "Fire this many times, then stop (null: every time)",
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 1_000_000,
        },
        "probability": {
            "description": "Fire on this share of matching requests (0–1; null: always)",
            "type": ["number", "null"],
            "minimum": 0,
            "maximum": 1,
        },
        "at": {
            "description": "Fire only from this virtual time on",
            "type": ["string", "null"],
            "format": "date-time",
        },
    },
}
FAULT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "fault", "arg", "times", "probability", "at", "fired", "scope"],
    "properties": {
        "id": {"type": "integer"},
        "fault": {"type": "string"},
        "arg": {"type": ["string", "null"]},
        "times": {"type": ["integer", "null"], "description": "Firings left; null = unlimited"},
        "probability": {"type": ["number", "null"]},
        "at": {"type": ["string", "null"], "format": "date-time"},
        "fired": {"type": "integer"},
        "draws": {"type": "integer"},
        "slug": {"type": "string"},
        "grant_id": {"type": ["string", "null"]},
        "scope": {"type": "string", "enum": ["portal", "grant"]},
        "source": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
FAULT_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": FAULT}},
}
CATALOG_ENTRY: dict[str, Any] = {
    "type": "object",
    "required": ["name", "where", "effect"],
    "properties": {
        "name": {"type": "string"},
        "where": {"type": "string"},
        "site": {"type": "string"},
        "effect": {"type": "string"},
        "arg": {"type": ["string", "null"]},
        "default_arg": {"type": ["string", "null"]},
        "default_times": {"type": ["integer", "null"]},
        "portals": {"oneOf": [{"const": "all"}, {"type": "array", "items": {"type": "string"}}]},
        "login_example": {"type": "string"},
    },
}
CATALOG: dict[str, Any] = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {
        "object": {"const": "list"},
        "data": {"type": "array", "items": CATALOG_ENTRY},
        "login_syntax": {"type": "string"},
        "passwords": {"type": "string"},
    },
}
PORTAL_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {
        "object": {"const": "list"},
        "data": {"type": "array", "items": {"type": "object"}},
        "personas": {"type": "array", "items": {"type": "object"}},
    },
}
CLEARED: dict[str, Any] = {
    "type": "object",
    "required": ["deleted"],
    "properties": {"deleted": {"type": "integer"}},
}


def _slug(slug: str) -> str:
    if slug not in profiles.PORTALS:
        raise not_found("portal", slug, "slug")
    return slug


@bp.get("/faults/catalog")
def fault_catalog() -> dict[str, Any]:
    return {
        "object": "list",
        "data": portal_mocks.fault_catalog(runtime()),
        "login_syntax": "<persona>+<fault>[:<arg>][+<fault>[:<arg>]...], e.g. alice+deny",
        "passwords": "any non-empty password except 'wrong'",
    }


@bp.get("/portals")
def list_portals() -> dict[str, Any]:
    rt = runtime()
    data = []
    for p in profiles.PORTALS.values():
        source = rt.catalog.by_slug(p.slug)
        data.append(
            {
                "slug": p.slug,
                "name": source.name if source else p.display_name,
                "connection_id": source.id if source else None,
                "vendor": p.vendor,
                "kind": p.kind,
                "fhir_base_url": f"{rt.base_url}/portals/{p.slug}/fhir",
                "resource_types": list(p.resource_types),
                "access_token_expires_in": profiles.access_token_ttl_s(
                    p, rt.now(rt.default_workspace.id)
                ),
                "refresh_token_rotation": p.rotate_refresh_tokens,
                "flaky_503_share": p.flaky_share,
            }
        )
    people = [
        {"username": x.username, "summary": x.summary, "resources": x.size}
        for x in personas.PERSONAS.values()
    ]
    return {"object": "list", "data": data, "personas": people}


@bp.post("/portals/<slug>/faults")
def add_fault(slug: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    slug = _slug(slug)
    body = json_body(FAULT_INPUT)
    at_ms = None
    if body.get("at") is not None:
        try:
            at_ms = parse_iso(body["at"])
        except ValueError:
            raise invalid("at must be an ISO 8601 date-time", "at") from None
    arg = body.get("arg")
    try:
        fault = portal_mocks.add_portal_fault(
            rt,
            ws,
            slug,
            body["fault"],
            None if arg is None else str(arg),
            times=body.get("times"),
            probability=body.get("probability"),
            at_ms=at_ms,
        )
    except portal_mocks.FaultError as exc:
        param = "fault" if body["fault"] not in faults.CATALOG else "arg"
        raise invalid(str(exc), param) from None
    return fault.to_api()


@bp.get("/portals/<slug>/faults")
def list_faults(slug: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    listed = portal_mocks.list_portal_faults(rt, ws, _slug(slug))
    return {"object": "list", "data": [f.to_api() for f in listed]}


@bp.delete("/portals/<slug>/faults")
def clear_faults(slug: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return {"deleted": portal_mocks.clear_portal_faults(rt, ws, _slug(slug))}


@bp.delete("/portals/<slug>/faults/<int:fault_id>")
def delete_fault(slug: str, fault_id: int) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    deleted = portal_mocks.clear_portal_faults(rt, ws, _slug(slug), fault_id)
    if not deleted:
        raise not_found("fault", str(fault_id), "id")
    return {"deleted": deleted}


_SLUG = path_param("slug", "Portal slug: " + ", ".join(profiles.PORTALS))

OPENAPI_PATHS: dict[str, Any] = {
    "/_sim/faults/catalog": {
        "get": {
            "operationId": "sim.faultCatalog",
            "summary": "The mock portals' failure catalog",
            "description": "Every named fault: where it fires, what it causes, its argument, "
            "and how to choose it at a portal login (`alice+deny`).",
            "security": PUBLIC,
            "responses": ok(CATALOG, "The catalog"),
        }
    },
    "/_sim/portals": {
        "get": {
            "operationId": "sim.listPortals",
            "description": "Every mock portal with its slug, FHIR base URL and discovery URL, and the login personas with the records they hold.",
            "summary": "The mock portals and the login personas",
            "security": PUBLIC,
            "responses": ok(PORTAL_LIST, "Portals and personas"),
        }
    },
    "/_sim/portals/{slug}/faults": {
        "parameters": [_SLUG],
        "post": {
            "operationId": "sim.addPortalFault",
            "summary": "Add a fault at a portal for this workspace",
            "description": "Applies to every login and grant of the workspace at the portal "
            "until cleared. `times` limits how often it fires, `probability` makes each "
            "opportunity a draw seeded from the workspace seed, `at` keeps it dormant until "
            "a virtual instant.",
            "requestBody": request_body(FAULT_INPUT),
            "responses": {
                "200": {
                    "description": "The stored fault",
                    "content": {"application/json": {"schema": FAULT}},
                }
            },
        },
        "get": {
            "operationId": "sim.listPortalFaults",
            "description": "Faults the caller's workspace applies to every login and grant at this portal.",
            "summary": "This workspace's faults at a portal",
            "responses": ok(FAULT_LIST, "Faults with their fired counts"),
        },
        "delete": {
            "operationId": "sim.clearPortalFaults",
            "description": "Removes every fault of the caller's workspace at this portal.",
            "summary": "Clear this workspace's faults at a portal",
            "responses": ok(CLEARED, "How many were removed"),
        },
    },
    "/_sim/portals/{slug}/faults/{fault_id}": {
        "parameters": [_SLUG, path_param("fault_id", "Fault id")],
        "delete": {
            "operationId": "sim.deletePortalFault",
            "description": "Removes one fault of the caller's workspace at this portal by its id.",
            "summary": "Remove one fault",
            "responses": ok(CLEARED, "Removed"),
        },
    },
}

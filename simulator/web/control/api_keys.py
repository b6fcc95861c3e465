"""`/_sim/api-keys` and `/_sim/workspace/plan`: the dashboard's API keys and plan limits."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from simulator.core import api_keys, plans
from simulator.web.http import json_body, runtime, workspace_id
from simulator.web.openapi import error, ok, path_param, request_body

bp = Blueprint("sim_api_keys", __name__, url_prefix="/_sim")


@bp.post("/api-keys")
def create_key() -> dict[str, Any]:
    """Mint an API key of the caller's workspace; its value is answered only here."""
    body = json_body(api_keys.INPUT, optional=True)
    rt, ws = runtime(), workspace_id()
    return api_keys.create(rt.store, ws, rt.now(ws), body)


@bp.get("/api-keys")
def list_keys() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    data = api_keys.list_all(rt.store, ws, rt.now(ws))
    return {"resource_type": "list", "data": data, "has_more": False, "next_cursor": None}


@bp.get("/api-keys/<key_id>")
def get_key(key_id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return api_keys.get(rt.store, ws, key_id, rt.now(ws))


@bp.post("/api-keys/<key_id>/revoke")
def revoke_key(key_id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return api_keys.revoke(rt.store, ws, key_id, rt.now(ws))


@bp.get("/workspace/plan")
def get_plan() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return plans.render(plans.get(rt.store, ws))


@bp.patch("/workspace/plan")
def update_plan() -> dict[str, Any]:
    body = json_body(plans.INPUT)
    rt, ws = runtime(), workspace_id()
    return plans.update(rt.store, ws, body)


_LIST = {
    "type": "object",
    "required": ["resource_type", "data", "has_more", "next_cursor"],
    "properties": {
        "resource_type": {"const": "list"},
        "data": {"type": "array", "items": api_keys.KEY},
        "has_more": {"type": "boolean"},
        "next_cursor": {"type": "null"},
    },
}
_KEY_ID = path_param("key_id", "An `apikey_…` id")

OPENAPI_PATHS = {
    "/_sim/api-keys": {
        "post": {
            "operationId": "sim.createApiKey",
            "summary": "Mint an API key of the caller's workspace (its value is shown only here)",
            "description": "`permissions` is `read_write` (default) or `read_only`: a read-only "
            "key calling a changing Connect API operation is 403 `insufficient_scope`. After "
            "`expires_at` (workspace clock) the key is 401 `expired_api_key`. Past the plan's "
            "`api_key_limit` of active keys (the workspace's own key counts) this is 429 "
            "`api_key_limit_exceeded`.",
            "requestBody": request_body(api_keys.INPUT, required=False),
            "responses": ok(api_keys.KEY, "The key, with its value in `key`"),
        },
        "get": {
            "operationId": "sim.listApiKeys",
            "description": "Every API key minted for the caller's workspace with its name, permissions, expiry and revocation; key values are never shown again.",
            "summary": "The API keys minted for the caller's workspace (no values)",
            "responses": ok(_LIST, "Every key, oldest first"),
        },
    },
    "/_sim/api-keys/{key_id}": {
        "get": {
            "operationId": "sim.getApiKey",
            "description": "One API key of the caller's workspace by its id (never its value).",
            "summary": "One API key (no value)",
            "parameters": [_KEY_ID],
            "responses": ok(api_keys.KEY, "The key"),
        }
    },
    "/_sim/api-keys/{key_id}/revoke": {
        "post": {
            "operationId": "sim.revokeApiKey",
            "description": "Revokes the key at once: later calls with it answer 401 `invalid_api_key`; other keys of the workspace keep working.",
            "summary": "Revoke an API key now: every later call with it is 401 `invalid_api_key`",
            "parameters": [_KEY_ID],
            "responses": {
                **ok(api_keys.KEY, "The revoked key"),
                "409": error(409),
            },
        }
    },
    "/_sim/workspace/plan": {
        "get": {
            "operationId": "sim.getWorkspacePlan",
            "description": "The plan limits the workspace enforces: active patients (402 `quota_exceeded` past it) and API keys.",
            "summary": "The caller's workspace plan limits",
            "responses": ok(plans.PLAN, "The limits"),
        },
        "patch": {
            "operationId": "sim.updateWorkspacePlan",
            "summary": "Change the workspace plan limits",
            "description": "`active_patient_limit` (null: none): one more patient is 402 "
            "`billing_error`/`quota_exceeded`. `api_key_limit` caps the active API keys.",
            "requestBody": request_body(plans.INPUT),
            "responses": ok(plans.PLAN, "The limits now"),
        },
    },
}

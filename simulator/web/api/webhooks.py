"""Webhook endpoints and their event records (`/webhooks`, `/events/{id}/redeliver`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from simulator.domain.webhooks import deliveries, endpoints
from simulator.web import webhook_schemas as wh
from simulator.web.api.guard import require_api_key
from simulator.web.http import SUPPORTED_VERSIONS, json_body, runtime, workspace_id
from simulator.web.openapi import LIST_PARAMS, path_param
from simulator.web.schemas import ERROR, list_of

bp = Blueprint("webhooks", __name__)
bp.before_request(require_api_key)


def _api_version() -> str:
    """The version pinned on a new endpoint: the `Version` header, else the default."""
    return (request.headers.get("Version") or SUPPORTED_VERSIONS[0]).strip()


@bp.post("/webhooks")
def create_webhook() -> dict[str, Any]:
    body = json_body(wh.WEBHOOK_ENDPOINT_CREATE_INPUT)
    rt, ws = runtime(), workspace_id()
    endpoint, secret = endpoints.create(rt, ws, body, _api_version())
    return endpoints.render(endpoint, secret)


@bp.get("/webhooks")
def list_webhooks() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return endpoints.list_page(rt.store, ws, request.args, status=request.args.get("status"))


@bp.get("/webhooks/<id>")
def get_webhook(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return endpoints.render(endpoints.get_row(rt.store, ws, id))


@bp.patch("/webhooks/<id>")
def update_webhook(id: str) -> dict[str, Any]:
    body = json_body(wh.WEBHOOK_ENDPOINT_UPDATE_INPUT, optional=True)  # no body: no change
    rt, ws = runtime(), workspace_id()
    with rt.store.tx():
        endpoint, disabled_now = endpoints.update(rt, ws, id, body)
        if disabled_now:
            deliveries.stop_pending(rt, ws, id)
    return endpoints.render(endpoint)


@bp.delete("/webhooks/<id>")
def delete_webhook(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    deliveries.delete_endpoint(rt, ws, id)
    return endpoints.tombstone(id)


@bp.post("/webhooks/<id>/rotate-secret")
def rotate_secret(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    endpoint, secret = endpoints.rotate_secret(rt, ws, id)
    return endpoints.render(endpoint, secret)


@bp.get("/webhooks/<id>/events")
def list_webhook_events(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    delivered = request.args.get("delivered")
    return deliveries.list_page(rt.store, ws, request.args, endpoint_id=id, delivered=delivered)


@bp.post("/events/<id>/redeliver")
def redeliver_event(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return deliveries.redeliver(rt, ws, id)


# -- OpenAPI ----------------------------------------------------------------------------------


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _json(ERROR, "Invalid input"),
    "401": _json(ERROR, "Missing or invalid API key"),
    "404": _json(ERROR, "No such webhook endpoint or event"),
}
_ID = path_param("id", "The `wh_` id of the endpoint.")

OPENAPI_PATHS: dict[str, Any] = {
    "/webhooks": {
        "post": {
            "operationId": "api.createWebhook",
            "summary": "Register a webhook endpoint",
            "description": "The response carries the signing `secret` (`whsec_…`); it is never "
            "shown again. `url` must be https (http for localhost and 127.0.0.1 only). "
            "`api_version` is pinned from the `Version` header.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": wh.DOCUMENTED_CREATE_INPUT}},
            },
            "responses": {"200": _json(wh.WEBHOOK_ENDPOINT_WITH_SECRET, "Endpoint"), **_ERRORS},
        },
        "get": {
            "operationId": "api.listWebhooks",
            "description": "The workspace's webhook endpoints, optionally only those with a `status`; secrets are never included.",
            "summary": "List webhook endpoints",
            "parameters": [
                *LIST_PARAMS,
                {
                    "name": "status",
                    "in": "query",
                    "description": "Only endpoints in this status",
                    "schema": {"enum": wh.ENDPOINT_STATUS},
                },
            ],
            "responses": {"200": _json(list_of(wh.WEBHOOK_ENDPOINT), "Endpoints"), **_ERRORS},
        },
    },
    "/webhooks/{id}": {
        "get": {
            "operationId": "api.getWebhook",
            "description": "One webhook endpoint: URL, subscribed events, status and failure count (without its secret).",
            "summary": "Retrieve a webhook endpoint",
            "parameters": [_ID],
            "responses": {"200": _json(wh.WEBHOOK_ENDPOINT, "Endpoint"), **_ERRORS},
        },
        "patch": {
            "operationId": "api.updateWebhook",
            "summary": "Update a webhook endpoint",
            "description": '`{"status": "active"}` re-enables a disabled endpoint.',
            "parameters": [_ID],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": wh.DOCUMENTED_UPDATE_INPUT}},
            },
            "responses": {"200": _json(wh.WEBHOOK_ENDPOINT, "Endpoint"), **_ERRORS},
        },
        "delete": {
            "operationId": "api.deleteWebhook",
            "description": "Deletes the endpoint; pending retries stop and its delivery history is removed.",
            "summary": "Delete a webhook endpoint and its delivery history",
            "parameters": [_ID],
            "responses": {"200": _json(wh.WEBHOOK_ENDPOINT_DELETED, "Tombstone"), **_ERRORS},
        },
    },
    "/webhooks/{id}/rotate-secret": {
        "post": {
            "operationId": "api.rotateWebhookSecret",
            "summary": "Rotate the signing secret",
            "description": "The old secret stops signing immediately.",
            "parameters": [_ID],
            "responses": {
                "200": _json(wh.WEBHOOK_ENDPOINT_WITH_SECRET, "Endpoint with its new secret"),
                **_ERRORS,
            },
        }
    },
    "/webhooks/{id}/events": {
        "get": {
            "operationId": "api.listWebhookEvents",
            "description": "Events sent (or being retried) to this endpoint, newest first, each with its delivery state and attempts.",
            "summary": "List the events of an endpoint with their delivery state",
            "parameters": [
                _ID,
                *LIST_PARAMS,
                {
                    "name": "delivered",
                    "in": "query",
                    "description": "`true`: delivered only; `false`: pending or failed only.",
                    "schema": {"enum": ["true", "false"]},
                },
            ],
            "responses": {"200": _json(list_of(wh.WEBHOOK_EVENT_RECORD), "Events"), **_ERRORS},
        }
    },
    "/events/{id}/redeliver": {
        "post": {
            "operationId": "api.redeliverWebhookEvent",
            "summary": "Redeliver an event now",
            "description": "One attempt, made before answering; the record after it is "
            "returned. At most 1 call per event per 60 s (429 `throttled` with "
            "`Retry-After`). 409 when the endpoint is disabled.",
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "description": "The `evt_` id.",
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": _json(wh.WEBHOOK_EVENT_RECORD, "The record after the attempt"),
                "409": _json(ERROR, "The endpoint is disabled"),
                "429": _json(ERROR, "Redelivered less than 60 s ago"),
                **_ERRORS,
            },
        }
    },
}

"""Built-in webhook receivers under `/_sim/inboxes` (the receiving URL needs no key)."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, request

from simulator.domain.webhooks import inboxes
from simulator.web import webhook_schemas as wh
from simulator.web.http import json_body, runtime, workspace_id
from simulator.web.schemas import ERROR, list_of

bp = Blueprint("sim_inboxes", __name__, url_prefix="/_sim/inboxes")


@bp.post("")
def create_inbox() -> dict[str, Any]:
    body = json_body(wh.INBOX_INPUT, optional=True)
    rt, ws = runtime(), workspace_id()
    return inboxes.render(rt, inboxes.create(rt, ws, body))


@bp.get("")
def list_inboxes() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return inboxes.list_page(rt, ws, request.args)


@bp.get("/<id>")
def get_inbox(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return inboxes.render(rt, inboxes.get_row(rt.store, ws, id))


@bp.put("/<id>")
def configure_inbox(id: str) -> dict[str, Any]:
    body = json_body(wh.INBOX_INPUT, optional=True)
    rt, ws = runtime(), workspace_id()
    return inboxes.render(rt, inboxes.configure(rt, ws, id, body))


@bp.delete("/<id>")
def delete_inbox(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    inboxes.delete(rt.store, ws, id)
    return {"id": id, "resource_type": "inbox", "deleted": True}


@bp.get("/<id>/requests")
def list_requests(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return inboxes.requests_page(rt.store, ws, request.args, inbox_id=id)


@bp.post("/<id>/receive")
def receive(id: str) -> Response:
    """Where deliveries land: recorded, then answered as the inbox was told."""
    rt = runtime()
    headers = {name: value for name, value in request.headers.items()}
    answer, _ = inboxes.receive(rt, id, request.method, headers, request.get_data())
    if answer.delay_ms:
        time.sleep(answer.delay_ms / 1000)  # a slow receiver is slow in real time
    return Response(answer.body, status=answer.status, content_type="application/json")


# -- OpenAPI ----------------------------------------------------------------------------------


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_ERRORS = {"400": _json(ERROR, "Invalid input"), "404": _json(ERROR, "No such inbox")}
_DELETED = {
    "type": "object",
    "required": ["id", "resource_type", "deleted"],
    "properties": {
        "id": {"type": "string"},
        "resource_type": {"const": "inbox"},
        "deleted": {"const": True},
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/_sim/inboxes": {
        "post": {
            "operationId": "sim.createInbox",
            "summary": "Create a webhook inbox (a receiver under the simulator)",
            "description": "Register its `url` as a webhook endpoint. It answers with `status` "
            "(default 200) after `delay_ms`, or with the `sequence` of answers in turn (the "
            "last repeats). Signatures are checked with `secret`, else with the secret of "
            "each endpoint of the workspace pointing at the inbox.",
            "requestBody": {"content": {"application/json": {"schema": wh.INBOX_INPUT}}},
            "responses": {"200": _json(wh.INBOX, "Inbox"), **_ERRORS},
        },
        "get": {
            "operationId": "sim.listInboxes",
            "description": "The caller's webhook inboxes (simulator-hosted receivers), with their receiving URLs.",
            "summary": "List inboxes",
            "responses": {"200": _json(list_of(wh.INBOX), "Inboxes")},
        },
    },
    "/_sim/inboxes/{id}": {
        "get": {
            "operationId": "sim.getInbox",
            "description": "How the inbox answers and what it received; each request shows its headers, body and signature verdict.",
            "summary": "An inbox and the last 100 requests it received, oldest first",
            "parameters": [_ID],
            "responses": {"200": _json(wh.INBOX, "Inbox"), **_ERRORS},
        },
        "put": {
            "operationId": "sim.configureInbox",
            "description": "Replaces the inbox's answer plan (status, delay, body or a sequence); the sequence restarts from its first answer.",
            "summary": "Replace how an inbox answers (its sequence starts again)",
            "parameters": [_ID],
            "requestBody": {"content": {"application/json": {"schema": wh.INBOX_INPUT}}},
            "responses": {"200": _json(wh.INBOX, "Inbox"), **_ERRORS},
        },
        "delete": {
            "operationId": "sim.deleteInbox",
            "description": "Deletes the inbox and the requests it recorded; its URL then answers 404.",
            "summary": "Delete an inbox and what it received",
            "parameters": [_ID],
            "responses": {"200": _json(_DELETED, "Tombstone"), **_ERRORS},
        },
    },
    "/_sim/inboxes/{id}/requests": {
        "get": {
            "operationId": "sim.listInboxRequests",
            "description": "The requests the inbox received, newest first, with headers, raw body and signature verdict.",
            "summary": "Requests an inbox received, newest first",
            "parameters": [_ID],
            "responses": {"200": _json(list_of(wh.INBOX_REQUEST), "Requests"), **_ERRORS},
        }
    },
    "/_sim/inboxes/{id}/receive": {
        "post": {
            "operationId": "sim.inboxReceive",
            "description": "The URL to register as a webhook endpoint. Records the request as received and answers with the next answer of the inbox's plan.",
            "summary": "The receiving URL (no API key): records the request and answers",
            "parameters": [_ID],
            "requestBody": {
                "description": "Anything: a receiver records what arrives, valid or not"
                " (a Medblocks delivery is a webhook event envelope).",
                "content": {"*/*": {"schema": {}}},
            },
            "responses": {
                "default": {"description": "The status, delay and body the inbox was told"}
            },
            "security": [],
        }
    },
}

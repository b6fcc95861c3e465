"""Webhook endpoints: create, read, update, delete, rotate; the secret only at create/rotate."""

from __future__ import annotations

import re

from conformance.checks import support as s
from conformance.checks.errors import envelope
from conformance.registry import Context, check

ENDPOINT_FIELDS = (
    "id",
    "resource_type",
    "url",
    "events",
    "status",
    "description",
    "metadata",
    "api_version",
    "created_at",
    "updated_at",
)
EVENT_TYPES = (
    "patient_session.completed",
    "connection.token_refresh_failed",
    "records.sync.completed",
    "records.sync.failed",
)
HOOK_URL = "https://hooks.example/medblocks"
SECRET = re.compile(r"whsec_[A-Za-z0-9_\-]+")


@check(
    "WH-001",
    "webhooks",
    "POST /webhooks answers the active endpoint with every field, a wh_ id and a whsec_ secret",
    "§1.6",
)
def create(ctx: Context) -> None:
    body = s.endpoint(ctx, HOOK_URL, ["*"], description="ci", metadata={"team": "a"})
    ctx.require(set(body) == {*ENDPOINT_FIELDS, "secret"}, f"fields {sorted(body)}")
    ctx.require(body["id"].startswith("wh_"), f"id {body['id']!r}")
    ctx.require(body["resource_type"] == "webhook_endpoint", "resource_type")
    ctx.require(SECRET.fullmatch(body["secret"] or "") is not None, "the secret is not whsec_")
    ctx.require(body["status"] == "active", f"status {body['status']!r}")
    ctx.require(
        (body["url"], body["events"], body["description"], body["metadata"])
        == (HOOK_URL, ["*"], "ci", {"team": "a"}),
        "the input is not echoed",
    )
    ctx.require(isinstance(body["api_version"], str) and body["api_version"], "api_version")


@check(
    "WH-002",
    "webhooks",
    "The secret is never returned again: not by retrieve, list, update or the events list",
    "§1.6",
)
def secret_once(ctx: Context) -> None:
    body = s.endpoint(ctx, HOOK_URL)
    wh_id = body["id"]
    replies = [
        ctx.api.get(f"/webhooks/{wh_id}"),
        ctx.api.get("/webhooks"),
        ctx.api.call("PATCH", f"/webhooks/{wh_id}", {"description": "x"}),
        ctx.api.get(f"/webhooks/{wh_id}/events"),
    ]
    for reply in replies:
        s.ok(ctx, reply, "a webhook read")
        ctx.require('"secret"' not in reply.text, "an answer has a secret field")
        ctx.require(body["secret"] not in reply.text, "an answer carries the secret")
    got = s.ok(ctx, replies[0], "GET /webhooks/{id}")
    ctx.require(set(got) == set(ENDPOINT_FIELDS), f"fields {sorted(got)}")


@check(
    "WH-003",
    "webhooks",
    "events must be 1–5 entries of '*' or the four event names (generation C); others are 400",
    "§4.1",
)
def events_validation(ctx: Context) -> None:
    six = ["*", *EVENT_TYPES, "*"]  # all valid names, one too many
    for events in ([], ["patient.created"], ["patient_flow.completed"], six):
        reply = ctx.api.post("/webhooks", {"url": HOOK_URL, "events": events})
        envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")
    body = s.endpoint(ctx, HOOK_URL, list(EVENT_TYPES))
    ctx.require(body["events"] == list(EVENT_TYPES), f"events {body['events']!r}")


@check(
    "WH-004",
    "webhooks",
    "url must be HTTPS, or http on localhost; description at most 500 characters",
    "§1.6",
)
def url_validation(ctx: Context) -> None:
    for body in (
        {"url": "http://hooks.example/x", "events": ["*"]},
        {"url": "not a url", "events": ["*"]},
        {"url": HOOK_URL, "events": ["*"], "description": "d" * 501},
    ):
        reply = ctx.api.post("/webhooks", body)
        envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")
    s.endpoint(ctx, "http://localhost:8080/hooks")


@check(
    "WH-005",
    "webhooks",
    "PATCH updates only the given fields; status disabled and active toggle the endpoint",
    "§3.3",
)
def update(ctx: Context) -> None:
    body = s.endpoint(ctx, HOOK_URL, ["*"], description="one", metadata={"a": "1"})
    wh_id = body["id"]
    patched = s.ok(
        ctx,
        ctx.api.call("PATCH", f"/webhooks/{wh_id}", {"events": ["records.sync.failed"]}),
        "PATCH",
    )
    ctx.require(patched["events"] == ["records.sync.failed"], "events not updated")
    ctx.require(patched["description"] == "one" and patched["metadata"] == {"a": "1"}, "others")
    ctx.require(patched["api_version"] == body["api_version"], "api_version changed")
    for status in ("disabled", "active"):
        got = s.ok(ctx, ctx.api.call("PATCH", f"/webhooks/{wh_id}", {"status": status}), status)
        ctx.require(got["status"] == status, f"PATCH status {status} answered {got['status']}")
        again = s.ok(ctx, ctx.api.get(f"/webhooks/{wh_id}"), "GET")
        ctx.require(again["status"] == status, f"GET shows {again['status']}")
    bad = ctx.api.call("PATCH", f"/webhooks/{wh_id}", {"status": "paused"})
    envelope(ctx, bad, 400, "invalid_request_error", "invalid_data")


@check(
    "WH-006",
    "webhooks",
    "DELETE answers the tombstone; the endpoint is then 404",
    "§1.6",
)
def delete(ctx: Context) -> None:
    body = s.endpoint(ctx, HOOK_URL)
    wh_id = body["id"]
    gone = s.ok(ctx, ctx.api.call("DELETE", f"/webhooks/{wh_id}"), "DELETE")
    want = {"id": wh_id, "resource_type": "webhook_endpoint", "deleted": True}
    ctx.require(gone == want, f"tombstone {gone!r}")
    for method, path in (("GET", f"/webhooks/{wh_id}"), ("DELETE", f"/webhooks/{wh_id}")):
        envelope(ctx, ctx.api.call(method, path), 404, "not_found_error", "resource_not_found")


@check(
    "WH-007",
    "webhooks",
    "GET /webhooks filters by status",
    "§3.3",
)
def list_by_status(ctx: Context) -> None:
    on = s.endpoint(ctx, HOOK_URL)
    off = s.endpoint(ctx, HOOK_URL + "/2")
    s.ok(ctx, ctx.api.call("PATCH", f"/webhooks/{off['id']}", {"status": "disabled"}), "PATCH")
    for status, want in (("active", on["id"]), ("disabled", off["id"])):
        page = s.ok(ctx, ctx.api.get("/webhooks", status=status, limit=100), status)
        ids = [item["id"] for item in page["data"]]
        ctx.require(want in ids, f"status={status} misses {want}")
        ctx.require(
            all(item["status"] == status for item in page["data"]),
            f"status={status} lists others",
        )


@check(
    "WH-008",
    "webhooks",
    "rotate-secret answers the endpoint with a new whsec_ secret",
    "§2.1",
)
def rotate(ctx: Context) -> None:
    body = s.endpoint(ctx, HOOK_URL)
    rotated = s.ok(ctx, ctx.api.post(f"/webhooks/{body['id']}/rotate-secret"), "rotate")
    ctx.require(set(rotated) == {*ENDPOINT_FIELDS, "secret"}, f"fields {sorted(rotated)}")
    ctx.require(SECRET.fullmatch(rotated["secret"] or "") is not None, "not a whsec_ secret")
    ctx.require(rotated["secret"] != body["secret"], "the secret did not change")
    again = s.ok(ctx, ctx.api.post(f"/webhooks/{body['id']}/rotate-secret"), "rotate")
    ctx.require(again["secret"] not in (body["secret"], rotated["secret"]), "a secret repeats")


@check(
    "WH-009",
    "webhooks",
    "api_version is pinned from the Version header at registration and immutable "
    "(documented choice)",
    "§1.6",
)
def pinned_version(ctx: Context) -> None:
    reply = ctx.api.post(
        "/webhooks", {"url": HOOK_URL, "events": ["*"]}, headers={"Version": "2026-04-25"}
    )
    body = s.ok(ctx, reply, "POST /webhooks")
    s.undo(ctx, "DELETE", f"/webhooks/{body['id']}")
    ctx.require(body["api_version"] == "2026-04-25", f"api_version {body['api_version']!r}")
    # not a field of the update input: refused (strict) or ignored, never applied
    reply = ctx.api.call("PATCH", f"/webhooks/{body['id']}", {"api_version": "2020-01-01"})
    ctx.require(reply.status in (200, 400), f"PATCH answered {reply.status}")
    got = s.ok(ctx, ctx.api.get(f"/webhooks/{body['id']}"), "GET /webhooks/{id}")
    ctx.require(got["api_version"] == "2026-04-25", f"api_version became {got['api_version']!r}")

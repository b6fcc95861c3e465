"""Versions, request ids, timestamps and status codes common to every answer (§1, §2)."""

from __future__ import annotations

import re

from conformance.checks import support as s
from conformance.checks.errors import UUID
from conformance.registry import Context, check

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
VERSION = "2026-04-25"


@check(
    "VER-001",
    "versions",
    "Every response carries an X-Request-Id, unique per request",
    "§2.4",
)
def request_ids(ctx: Context) -> None:
    replies = [
        ctx.api.call("GET", "/health", auth=False),
        ctx.api.post("/patients", {"patient_id": s.unique("rid")}),
        ctx.api.get("/patients"),
        ctx.api.get("/connections"),
        ctx.api.get("/patients/no-such-patient-rid"),
        ctx.api.call("GET", "/patients", auth=False),
        ctx.api.post("/patients", {}),
    ]
    seen = []
    for reply in replies:
        header = reply.header("X-Request-Id")
        ctx.require(bool(header), f"a {reply.status} answer has no X-Request-Id")
        seen.append(header)
    ctx.require(len(set(seen)) == len(seen), "two responses share an X-Request-Id")


@check(
    "VER-002",
    "versions",
    "The request id is a UUID",
    "§1.1",
)
def request_id_shape(ctx: Context) -> None:
    header = ctx.api.get("/patients").header("X-Request-Id") or ""
    ctx.require(UUID.fullmatch(header) is not None, f"X-Request-Id {header!r}")


@check(
    "VER-003",
    "versions",
    "Version: 2026-04-25 is accepted and answers as without the header",
    "§2",
)
def current_version(ctx: Context) -> None:
    created = s.new_patient(ctx)
    plain = s.ok(ctx, ctx.api.get(f"/patients/{created['id']}"), "without Version")
    pinned = s.ok(
        ctx,
        ctx.api.call("GET", f"/patients/{created['id']}", headers={"Version": VERSION}),
        "with Version",
    )
    ctx.require(plain == pinned, "the Version header changed the answer")


@check(
    "VER-004",
    "versions",
    "GET /health needs no key and answers {ok: true, server_time}",
    "§2.1",
)
def health(ctx: Context) -> None:
    body = s.ok(ctx, ctx.api.call("GET", "/health", auth=False), "GET /health")
    ctx.require(body.get("ok") is True, f"ok {body.get('ok')!r}")
    ctx.require(TIMESTAMP.fullmatch(str(body.get("server_time"))) is not None, "server_time")


@check(
    "VER-005",
    "versions",
    "Timestamps are ISO 8601 with milliseconds and Z",
    "§1",
)
def timestamps(ctx: Context) -> None:
    objects = [
        s.new_patient(ctx),
        s.new_session(ctx),
        s.endpoint(ctx, "https://hooks.example/ts"),
    ]
    for body in objects:
        for field in ("created_at", "updated_at", "expires_at"):
            if field in body:
                value = str(body[field])
                ctx.require(TIMESTAMP.fullmatch(value) is not None, f"{field} {value!r}")


@check(
    "VER-006",
    "versions",
    "Creates answer 200, not 201 (documented choice)",
    "§2",
)
def creates_200(ctx: Context) -> None:
    for path, body in (
        ("/patients", {"patient_id": s.unique("c")}),
        ("/patient-sessions", {"patient_id": s.unique("c"), "return_url": s.RETURN_URL}),
        ("/webhooks", {"url": "https://hooks.example/c", "events": ["*"]}),
    ):
        reply = ctx.api.post(path, body)
        ctx.require(reply.status == 200, f"POST {path} answered {reply.status}")
        if path == "/webhooks":
            s.undo(ctx, "DELETE", f"/webhooks/{reply.json['id']}")


@check(
    "VER-007",
    "versions",
    "Answers are JSON (Content-Type application/json), errors included",
    "§2.4",
)
def json_answers(ctx: Context) -> None:
    for reply in (ctx.api.get("/patients"), ctx.api.get("/patients/no-such-patient-j")):
        kind = reply.header("Content-Type") or ""
        ctx.require(kind.startswith("application/json"), f"Content-Type {kind!r}")

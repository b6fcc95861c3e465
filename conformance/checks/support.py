"""Steps the checks share: unique ids, sessions, a patient's walk, inboxes, times, HMAC.

Everything here talks HTTP through the check's `Context` (`ctx.api`, `ctx.control`);
nothing knows the implementation behind the base URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from conformance.http import Reply
from conformance.registry import Context
from conformance.results import CheckFailed, Skipped
from conformance.runner import CLEANUP

RETURN_URL = "https://app.example/connected"
PERSONA = "alice"

SESSION_FIELDS = (
    "id",
    "resource_type",
    "status",
    "url",
    "patient_id",
    "connection_id",
    "recommended_connection_ids",
    "return_url",
    "return_button_label",
    "connections",
    "expires_at",
    "metadata",
    "created_at",
)
SESSION_CONNECTION_FIELDS = (
    "id",
    "connection_id",
    "status",
    "failure_code",
    "failure_at",
    "created_at",
)
PATIENT_CONNECTION_FIELDS = (
    "id",
    "resource_type",
    "patient_session_id",
    "connection_id",
    "status",
    "scopes",
    "failure_code",
    "failure_at",
    "created_at",
    "updated_at",
)
CONNECTION_STATUSES = ("active", "failed", "expired", "refresh_failed", "disconnected")


def unique(prefix: str) -> str:
    """An id no other check uses, also on a shared workspace."""
    return f"{prefix}-{secrets.token_hex(4)}"


def ms(value: str) -> int:
    """An ISO 8601 timestamp (with `Z`) as unix milliseconds."""
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def iso(value_ms: int) -> str:
    moment = datetime.fromtimestamp(value_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value_ms % 1000:03d}Z"


def has_fields(ctx: Context, body: Any, fields: tuple[str, ...], what: str) -> None:
    ctx.require(isinstance(body, dict), f"{what} is not an object: {body!r:.200}")
    missing = [name for name in fields if name not in body]
    ctx.require(not missing, f"{what} lacks {missing}")


def ok(ctx: Context, reply: Reply, what: str) -> Any:
    """The reply is a 200 with a JSON body; answers the body."""
    ctx.require(
        reply.status == 200, f"{what} answered {reply.status}, expected 200: {reply.text[:200]}"
    )
    ctx.require(reply.json is not None, f"{what} answered no JSON")
    return reply.json


# -- catalog and patients ----------------------------------------------------------------


def sources(ctx: Context) -> list[dict[str, Any]]:
    """Every catalog entry (all pages)."""
    found: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = ok(ctx, ctx.api.get("/connections", limit=100, starting_after=cursor), "catalog")
        found.extend(page["data"])
        if not page["has_more"]:
            return found
        cursor = page["next_cursor"]
    raise CheckFailed("the catalog never ends (has_more stays true)")


def source(ctx: Context, index: int = 0) -> dict[str, Any]:
    listed = sources(ctx)
    if len(listed) <= index:
        raise Skipped(f"the catalog has fewer than {index + 1} sources")
    return listed[index]


def new_patient(ctx: Context, **fields: Any) -> dict[str, Any]:
    body = {"patient_id": unique("pat-check"), **fields}
    created = ok(ctx, ctx.api.post("/patients", body), "POST /patients")
    undo(ctx, "DELETE", f"/patients/{created['id']}")
    return created


def new_session(ctx: Context, patient_id: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"patient_id": patient_id or unique("patient"), "return_url": RETURN_URL, **fields}
    return ok(ctx, ctx.api.post("/patient-sessions", body), "POST /patient-sessions")


def session(ctx: Context, session_id: str) -> dict[str, Any]:
    return ok(ctx, ctx.api.get(f"/patient-sessions/{session_id}"), "GET /patient-sessions/{id}")


def patient(ctx: Context, patient_id: str) -> dict[str, Any]:
    return ok(ctx, ctx.api.get(f"/patients/{patient_id}"), "GET /patients/{id}")


# -- the patient's walk (control plane) --------------------------------------------------


def connect(ctx: Context, session_id: str, source_id: str | None, **patient: Any) -> dict[str, Any]:
    """The patient connects `source_id` (None in Direct mode); answers the settled attempt."""
    result = ctx.control.connect(session_id, source=source_id, **patient)
    attempt = result.get("connection")
    ctx.require(isinstance(attempt, dict), f"the attempt did not settle: {result!r:.300}")
    return result


def active(ctx: Context, patient_id: str | None = None, index: int = 0) -> dict[str, Any]:
    """A completed Picker session with one active connection; answers ids and bodies."""
    src = source(ctx, index)
    created = new_session(ctx, patient_id)
    result = connect(ctx, created["id"], src["id"], username=PERSONA)
    attempt = result["connection"]
    ctx.require(attempt["status"] == "active", f"the attempt ended {attempt['status']}, not active")
    done = ctx.control.done(created["id"])
    return {
        "session": done["session"],
        "attempt": attempt,
        "source": src,
        "patient_id": created["patient_id"],
        "return_url": done.get("return_url"),
    }


def connection_entry(ctx: Context, patient_id: str, conn_id: str) -> dict[str, Any]:
    for entry in patient(ctx, patient_id)["connections"]:
        if entry["id"] == conn_id:
            return entry
    raise CheckFailed(f"{conn_id} is not in the patient's connections")


# -- webhooks ----------------------------------------------------------------------------


def endpoint(
    ctx: Context, url: str, events: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    body = {"url": url, "events": events or ["*"], **fields}
    created = ok(ctx, ctx.api.post("/webhooks", body), "POST /webhooks")
    undo(ctx, "DELETE", f"/webhooks/{created['id']}")
    return created


def in_generation(ctx: Context, naming: str) -> Context:
    """The check's context moved to a fresh workspace speaking naming generation `naming`.

    Only the simulator makes such workspaces (`POST /_sim/workspaces {naming}`).
    """
    if not ctx.has_control_plane:
        raise Skipped("needs the /_sim control plane to make a workspace of generation " + naming)
    created = ctx.api.expect(
        "POST",
        "/_sim/workspaces",
        200,
        {"seed": ctx.seed, "clock": "manual", "naming": naming},
        auth=False,
    )
    return replace(ctx, api=ctx.api.with_key(created["api_key"]))


def undo(ctx: Context, method: str, path: str) -> None:
    """A call that removes what the check made, run after it on a shared workspace."""
    ctx.extra.setdefault(CLEANUP, []).append((method, path))


def inbox_endpoint(
    ctx: Context, events: list[str] | None = None, **inbox: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An inbox (answering as told) and an endpoint delivering to it."""
    box = ctx.control.inbox(**inbox)
    return box, endpoint(ctx, box["url"], events)


def arrivals(ctx: Context, inbox_id: str) -> list[dict[str, Any]]:
    """What the inbox received, oldest first."""
    found: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = ctx.api.expect(
            "GET",
            f"/_sim/inboxes/{inbox_id}/requests",
            200,
            query={"limit": 100, "starting_after": cursor},
        )
        found.extend(page["data"])
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    found.reverse()
    return found


def event_records(ctx: Context, endpoint_id: str, **query: Any) -> list[dict[str, Any]]:
    page = ok(
        ctx, ctx.api.get(f"/webhooks/{endpoint_id}/events", limit=100, **query), "list events"
    )
    return page["data"]


def fire(ctx: Context, event_type: str, **body: Any) -> dict[str, Any]:
    """An event fired on demand for an existing object (control plane)."""
    ctx.control  # noqa: B018 - skips without a control plane
    return ctx.api.expect("POST", "/_sim/events", 200, {"type": event_type, **body})


def sync_failed(ctx: Context, patient_id: str | None = None) -> dict[str, Any]:
    """A `records.sync.failed` event for a (new) patient and the first source."""
    pid = patient_id or new_patient(ctx)["id"]
    return fire(
        ctx,
        "records.sync.failed",
        patient_id=pid,
        connection_id=source(ctx)["id"],
        data={"error_message": "conformance check"},
    )


def parse_signature(header: str) -> tuple[int, list[str]]:
    """`t=<unix>,v1=<hex>[,v1=…]` → (t, [v1…]); fails the check when malformed."""
    t: int | None = None
    v1: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            t = int(value)
        elif key == "v1":
            v1.append(value)
    if t is None or not v1:
        raise CheckFailed(f"malformed Medblocks-Signature header {header!r}")
    return t, v1


def expected_signature(secret: str, t: int, raw_body: bytes) -> str:
    """§4.3: lowercase hex HMAC-SHA256 over `<t>.<raw body>` keyed with the secret."""
    message = str(t).encode() + b"." + raw_body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_with(secret: str, request: dict[str, Any]) -> bool:
    """The inbox request carries a `v1` made with `secret` over its raw body."""
    header = header_of(request, "Medblocks-Signature")
    if header is None:
        return False
    t, v1 = parse_signature(header)
    want = expected_signature(secret, t, request["body"].encode("utf-8"))
    return any(hmac.compare_digest(want, got) for got in v1)


def header_of(request: dict[str, Any], name: str) -> str | None:
    lowered = name.lower()
    for key, value in (request.get("headers") or {}).items():
        if key.lower() == lowered:
            return value
    return None


def envelope_of(request: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(request["body"])
    except ValueError as bad:
        raise CheckFailed(f"a delivery's body is not JSON: {bad}") from None

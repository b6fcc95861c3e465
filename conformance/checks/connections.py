"""Connections: every status of an authorization attempt and every documented transition."""

from __future__ import annotations

import re
from typing import Any

from conformance.checks import support as s
from conformance.checks.errors import envelope
from conformance.registry import Context, check
from conformance.results import Skipped

CONN_ID = re.compile(r"conn_[0-9A-Za-z]{26}")
# Field names that would carry OAuth material; none belongs in a Connect API answer (§5).
TOKEN_FIELDS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "code_verifier",
        "client_secret",
        "authorization_code",
    }
)
TOKEN_TEXT = re.compile(r"\b(mb_sk_[A-Za-z0-9_]+|Bearer\s+\S+|eyJ[A-Za-z0-9_-]{10,}\.)")


@check(
    "CONN-001",
    "connections",
    "A successful attempt becomes active with a conn_ id, scopes and the session back-reference",
    "§3.2",
    needs_control=True,
)
def becomes_active(ctx: Context) -> None:
    walked = s.active(ctx)
    attempt = walked["attempt"]
    ctx.require(CONN_ID.fullmatch(attempt["id"] or "") is not None, f"id {attempt['id']!r}")
    ctx.require(
        attempt["connection_id"] == walked["source"]["id"], "connection_id is not the source"
    )
    ctx.require(attempt["failure_code"] is None and attempt["failure_at"] is None, "failure set")
    in_session = walked["session"]["connections"]
    ctx.require([c["id"] for c in in_session] == [attempt["id"]], "not in session.connections")
    entry = s.connection_entry(ctx, walked["patient_id"], attempt["id"])
    ctx.require(entry["status"] == "active", f"patient shows {entry['status']}")
    ctx.require(entry["patient_session_id"] == walked["session"]["id"], "patient_session_id")
    ctx.require(
        isinstance(entry["scopes"], list)
        and entry["scopes"]
        and all(isinstance(x, str) for x in entry["scopes"]),
        f"scopes {entry['scopes']!r}",
    )


def _failed_attempt(ctx: Context, **patient: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    body = s.new_session(ctx)
    result = s.connect(ctx, body["id"], s.source(ctx)["id"], **patient)
    return body, result["connection"]


def _require_failed(ctx: Context, attempt: dict[str, Any], code: str | None = None) -> None:
    ctx.require(attempt["status"] == "failed", f"status {attempt['status']}, expected failed")
    ctx.require(attempt["id"] is None, f"a failed attempt got id {attempt['id']!r}")
    ctx.require(bool(attempt["failure_code"]), "failure_code is not set")
    ctx.require(bool(attempt["failure_at"]), "failure_at is not set")
    if code is not None:
        got = attempt["failure_code"]
        ctx.require(got == code, f"failure_code {got!r}, expected {code}")


@check(
    "CONN-002",
    "connections",
    "A denied consent is a failed attempt with no conn_ id, failure_code and failure_at",
    "§3.2",
    needs_control=True,
)
def denied_fails(ctx: Context) -> None:
    body, attempt = _failed_attempt(ctx, username=s.PERSONA, consent="deny")
    _require_failed(ctx, attempt)
    listed = s.session(ctx, body["id"])["connections"]
    ctx.require(len(listed) == 1 and listed[0]["id"] is None, f"session lists {listed}")
    entries = s.patient(ctx, body["patient_id"])["connections"]
    ctx.require(
        [e["status"] for e in entries] == ["failed"], "PatientDetail does not list the failure"
    )


@check(
    "CONN-003",
    "connections",
    "A portal OAuth error fails the attempt and keeps the portal's code (documented choice)",
    "§3.2",
    needs_control=True,
)
def portal_error_fails(ctx: Context) -> None:
    _, attempt = _failed_attempt(ctx, username=f"{s.PERSONA}+server_error")
    _require_failed(ctx, attempt, "server_error")


@check(
    "CONN-004",
    "connections",
    "A refused code exchange fails the attempt with token_exchange_failed (documented choice)",
    "§3.2",
    needs_control=True,
)
def exchange_failure_fails(ctx: Context) -> None:
    _, attempt = _failed_attempt(ctx, username=f"{s.PERSONA}+auth_invalid_client_secret")
    _require_failed(ctx, attempt, "token_exchange_failed")


@check(
    "CONN-005",
    "connections",
    "A rejected refresh turns an active connection refresh_failed with failure_code and time",
    "§3.2",
    needs_control=True,
)
def refresh_fails(ctx: Context) -> None:
    walked = s.active(ctx)
    conn_id = walked["attempt"]["id"]
    ctx.control.refresh_failure(conn_id)
    entry = s.connection_entry(ctx, walked["patient_id"], conn_id)
    ctx.require(entry["status"] == "refresh_failed", f"status {entry['status']}")
    ctx.require(bool(entry["failure_code"]) and bool(entry["failure_at"]), "failure not set")
    in_session = s.session(ctx, walked["session"]["id"])["connections"]
    ctx.require(in_session[0]["status"] == "refresh_failed", "the session still shows active")


@check(
    "CONN-006",
    "connections",
    "DELETE /patients/{id}/connections/{conn_id} answers the tombstone and disconnects",
    "§2.1",
    needs_control=True,
)
def disconnects(ctx: Context) -> None:
    walked = s.active(ctx)
    conn_id, pid = walked["attempt"]["id"], walked["patient_id"]
    reply = ctx.api.call("DELETE", f"/patients/{pid}/connections/{conn_id}")
    body = s.ok(ctx, reply, "DELETE connection")
    want = {"id": conn_id, "resource_type": "connection", "disconnected": True}
    ctx.require(body == want, f"tombstone {body!r}")
    entry = s.connection_entry(ctx, pid, conn_id)
    ctx.require(entry["status"] == "disconnected", f"status {entry['status']}")
    missing = ctx.api.call("DELETE", f"/patients/{pid}/connections/conn_00000000000000000000000000")
    envelope(ctx, missing, 404, "not_found_error", "resource_not_found")


@check(
    "CONN-007",
    "connections",
    "PatientDetail.connections lists every attempt, most recent first",
    "§1.2",
    needs_control=True,
)
def most_recent_first(ctx: Context) -> None:
    pid = s.unique("p")
    first, failed = _failed_attempt_for(ctx, pid)
    ctx.control.advance(1)
    walked = s.active(ctx, pid)
    entries = s.patient(ctx, pid)["connections"]
    ctx.require(
        [e["status"] for e in entries] == ["active", "failed"],
        f"order {[e['status'] for e in entries]}",
    )
    ctx.require(entries[0]["id"] == walked["attempt"]["id"], "the newest is not first")
    ctx.require(entries[1]["patient_session_id"] == first["id"], "the older attempt's session")
    ctx.require(failed["status"] == "failed", "the first attempt did not fail")


def _failed_attempt_for(ctx: Context, pid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    body = s.new_session(ctx, pid)
    result = s.connect(ctx, body["id"], s.source(ctx)["id"], username=s.PERSONA, consent="deny")
    ctx.control.done(body["id"])
    return body, result["connection"]


@check(
    "CONN-008",
    "connections",
    "A failed attempt stays failed: recovery is a new session with a new entry",
    "§3.2",
    needs_control=True,
)
def failed_is_final(ctx: Context) -> None:
    pid = s.unique("p")
    first, _ = _failed_attempt_for(ctx, pid)
    s.active(ctx, pid)
    old = s.session(ctx, first["id"])["connections"]
    ctx.require([c["status"] for c in old] == ["failed"], f"first session now shows {old}")
    ctx.require(old[0]["id"] is None, "the failed attempt gained an id")
    statuses = sorted(e["status"] for e in s.patient(ctx, pid)["connections"])
    ctx.require(statuses == ["active", "failed"], f"patient shows {statuses}")


@check(
    "CONN-009",
    "connections",
    "After refresh_failed a new session gives a new conn_ id; the old one stays refresh_failed",
    "§3.2",
    needs_control=True,
)
def recovers_after_refresh_failure(ctx: Context) -> None:
    walked = s.active(ctx)
    old_id, pid = walked["attempt"]["id"], walked["patient_id"]
    ctx.control.refresh_failure(old_id)
    again = s.active(ctx, pid)
    ctx.require(again["attempt"]["id"] != old_id, "the reconnect reused the old conn_ id")
    ctx.require(s.connection_entry(ctx, pid, old_id)["status"] == "refresh_failed", "old changed")
    new = s.connection_entry(ctx, pid, again["attempt"]["id"])
    ctx.require(new["status"] == "active", f"the new connection is {new['status']}")


@check(
    "CONN-010",
    "connections",
    "Session connection items have exactly id, connection_id, status, failure_code, "
    "failure_at, created_at",
    "§1.3",
    needs_control=True,
)
def session_item_shape(ctx: Context) -> None:
    walked = s.active(ctx)
    for item in s.session(ctx, walked["session"]["id"])["connections"]:
        ctx.require(set(item) == set(s.SESSION_CONNECTION_FIELDS), f"fields {sorted(item)}")


@check(
    "CONN-011",
    "connections",
    "PatientDetail connection entries carry all ten fields and a documented status",
    "§1.2",
    needs_control=True,
)
def patient_entry_shape(ctx: Context) -> None:
    pid = s.unique("p")
    _failed_attempt_for(ctx, pid)
    s.active(ctx, pid)
    for entry in s.patient(ctx, pid)["connections"]:
        s.has_fields(ctx, entry, s.PATIENT_CONNECTION_FIELDS, "a connection entry")
        ctx.require(entry["resource_type"] == "connection", "resource_type")
        ctx.require(entry["status"] in s.CONNECTION_STATUSES, f"status {entry['status']!r}")


@check(
    "CONN-012",
    "connections",
    "An attempt still at the portal when the session expires ends expired and never "
    "activates (documented choice)",
    "§3.2",
    needs_control=True,
)
def expires_in_flight(ctx: Context) -> None:
    body = s.new_session(ctx, expires_in=60)
    ctx.control.abandon(body["id"], source=s.source(ctx)["id"])
    ctx.control.advance(61)
    got = s.session(ctx, body["id"])
    ctx.require(got["status"] == "expired", f"session {got['status']}")
    statuses = [c["status"] for c in got["connections"]]
    ctx.require(statuses == ["expired"], f"the attempt at the portal shows {statuses}")


@check(
    "CONN-013",
    "connections",
    "A new success to the same source disconnects the patient's older active one "
    "(documented choice)",
    "§3.2",
    needs_control=True,
)
def one_active_per_source(ctx: Context) -> None:
    first = s.active(ctx)
    pid = first["patient_id"]
    second = s.active(ctx, pid)
    ctx.require(
        s.connection_entry(ctx, pid, first["attempt"]["id"])["status"] == "disconnected",
        "the older active connection to the same source is still active",
    )
    ctx.require(
        s.connection_entry(ctx, pid, second["attempt"]["id"])["status"] == "active", "new one"
    )


@check(
    "CONN-014",
    "connections",
    "No Connect API answer carries an OAuth token, code or API key",
    "§5",
    needs_control=True,
)
def no_tokens_exposed(ctx: Context) -> None:
    walked = s.active(ctx)
    pid, conn_id = walked["patient_id"], walked["attempt"]["id"]
    s.inbox_endpoint(ctx)
    ctx.control.refresh_failure(conn_id)
    again = s.active(ctx, pid)
    reads = [
        f"/patients/{pid}",
        f"/patients/{pid}/patient-sessions",
        f"/patient-sessions/{walked['session']['id']}",
        f"/patient-sessions/{again['session']['id']}",
        f"/patients/{pid}/records?count=100",
        "/patients",
        "/webhooks",
    ]
    replies = [(path, ctx.api.get(path)) for path in reads]
    for wh in s.ok(ctx, replies[-1][1], "GET /webhooks")["data"]:
        path = f"/webhooks/{wh['id']}/events"
        replies.append((path, ctx.api.get(path)))
    for path, reply in replies:
        ctx.require(reply.status == 200, f"a read answered {reply.status}")
        leaked = sorted(TOKEN_FIELDS & set(_keys(reply.json)))
        ctx.require(not leaked, f"an answer carries {leaked}")
        found = TOKEN_TEXT.search(reply.text)
        ctx.require(found is None, f"an answer carries token-like text {found and found[0][:12]}…")
        ctx.require("whsec_" not in reply.text, "an answer carries a webhook secret")
        if "/records" in path:
            continue  # FHIR resources have `code` elements of their own
        for key, value in _pairs(reply.json):
            if key in ("code", "state") and isinstance(value, str) and len(value) > 16:
                ctx.require(False, f"{path} carries an OAuth {key}")


def _keys(value: Any) -> list[str]:
    return [key for key, _ in _pairs(value)]


def _pairs(value: Any) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                found.append((str(key), inner))
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return found


@check(
    "CONN-015",
    "connections",
    "A grant without a refresh token ends expired (access_expired) when its access token "
    "runs out, with no event (documented choice)",
    "§3.2",
    needs_control=True,
)
def expires_without_refresh(ctx: Context) -> None:
    catalog = ctx.control.fault_catalog()
    fault = next((f for f in catalog.get("data", []) if f.get("name") == "one_time"), None)
    if fault is None or not fault.get("portals"):
        raise Skipped("the portals offer no grant without a refresh token (fault one_time)")
    slug = fault["portals"][0]
    src = next((x for x in s.sources(ctx) if f"/{slug}/" in x["fhir_base_url"]), None)
    if src is None:
        raise Skipped(f"no catalog source is served by portal {slug}")
    box, _ = s.inbox_endpoint(ctx, ["connection.token_refresh_failed"])
    body = s.new_session(ctx)
    result = s.connect(ctx, body["id"], src["id"], username=f"{s.PERSONA}+one_time")
    conn_id = result["connection"]["id"]
    ctx.require(result["connection"]["status"] == "active", "the one-time grant did not activate")
    seen = ctx.api.expect("GET", f"/_sim/connections/{conn_id}", 200)
    ctx.require(seen["tokens"]["refresh_token"] is None, "the grant has a refresh token")
    ends = seen["tokens"]["access_expires_at"]
    ctx.control.set(s.iso(s.ms(ends) - 1))
    before = s.connection_entry(ctx, body["patient_id"], conn_id)
    ctx.require(before["status"] == "active", f"{before['status']} before the token ran out")
    ctx.control.set(ends)
    after = s.connection_entry(ctx, body["patient_id"], conn_id)
    ctx.require(after["status"] == "expired", f"{after['status']} when the token ran out")
    ctx.require(after["failure_code"] == "access_expired", f"failure_code {after['failure_code']}")
    ctx.require(s.arrivals(ctx, box["id"]) == [], "an event was sent for the lapse")

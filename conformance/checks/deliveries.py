"""Webhook deliveries: the four event shapes, signatures, the retry schedule, redelivery."""

from __future__ import annotations

import time
from typing import Any

from conformance.checks import support as s
from conformance.checks.errors import envelope
from conformance.registry import Context, check

MINUTE, HOUR = 60_000, 3_600_000
# §4.4: cumulative offsets of the nine attempts from the event.
SCHEDULE_MS = (
    0,
    1 * MINUTE,
    6 * MINUTE,
    36 * MINUTE,
    2 * HOUR + 36 * MINUTE,
    14 * HOUR + 36 * MINUTE,
    38 * HOUR + 36 * MINUTE,
    62 * HOUR + 36 * MINUTE,
    86 * HOUR + 36 * MINUTE,
)
ENVELOPE_FIELDS = ("id", "object", "type", "api_version", "created_at", "data")
RECORD_FIELDS = (
    "id",
    "resource_type",
    "webhook_endpoint_id",
    "type",
    "data",
    "api_version",
    "attempts",
    "next_attempt_at",
    "delivered_at",
    "last_status_code",
    "last_response_body",
    "last_redelivered_at",
    "created_at",
)
TOLERANCE_S = 300


def _of_type(ctx: Context, inbox_id: str, event_type: str) -> list[dict[str, Any]]:
    return [r for r in s.arrivals(ctx, inbox_id) if s.envelope_of(r).get("type") == event_type]


def _one(ctx: Context, inbox_id: str, event_type: str) -> dict[str, Any]:
    got = _of_type(ctx, inbox_id, event_type)
    ids = [s.envelope_of(r)["id"] for r in got]
    ctx.require(len(got) == 1, f"{len(got)} deliveries of {event_type} arrived ({ids})")
    return s.envelope_of(got[0])


def _envelope_shape(ctx: Context, body: dict[str, Any], wh: dict[str, Any], type_: str) -> None:
    ctx.require(list(body) == list(ENVELOPE_FIELDS) or set(body) == set(ENVELOPE_FIELDS), "shape")
    ctx.require(body["id"].startswith("evt_"), f"event id {body['id']!r}")
    ctx.require(body["object"] == "event", f"object {body['object']!r}")
    ctx.require(body["type"] == type_, f"type {body['type']!r}")
    ctx.require(body["api_version"] == wh["api_version"], "api_version is not the endpoint's")
    ctx.require(isinstance(body["data"], dict) and "object" in body["data"], "no data.object")


@check(
    "WH-010",
    "webhooks",
    "Completing a session delivers one patient_session.completed whose object is the session",
    "§4.1",
    needs_control=True,
)
def completion_event(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx)
    walked = s.active(ctx)
    body = _one(ctx, box["id"], "patient_session.completed")
    _envelope_shape(ctx, body, wh, "patient_session.completed")
    got = s.session(ctx, walked["session"]["id"])
    ctx.require(body["data"]["object"] == got, "data.object is not the session as GET shows it")


@check(
    "WH-011",
    "webhooks",
    "A refresh failure delivers one connection.token_refresh_failed with the connection item",
    "§4.1",
    needs_control=True,
)
def refresh_failed_event(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx)
    walked = s.active(ctx)
    ctx.control.refresh_failure(walked["attempt"]["id"])
    body = _one(ctx, box["id"], "connection.token_refresh_failed")
    _envelope_shape(ctx, body, wh, "connection.token_refresh_failed")
    item = body["data"]["object"]
    ctx.require(set(item) == set(s.SESSION_CONNECTION_FIELDS), f"fields {sorted(item)}")
    ctx.require(item["id"] == walked["attempt"]["id"], "another connection")
    ctx.require(item["status"] == "refresh_failed", f"status {item['status']!r}")
    ctx.require(item["connection_id"] == walked["source"]["id"], "connection_id")
    ctx.require(bool(item["failure_code"]) and bool(item["failure_at"]), "failure unset")


@check(
    "WH-012",
    "webhooks",
    "A settled pull delivers records.sync.completed with patient_id, connection_id, total, "
    "errors, duration_ms",
    "§4.1",
    needs_control=True,
)
def sync_completed_event(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx, ["records.sync.completed"])
    walked = s.active(ctx)
    for _ in range(15):
        if _of_type(ctx, box["id"], "records.sync.completed"):
            break
        ctx.control.advance(60)
    body = _one(ctx, box["id"], "records.sync.completed")
    _envelope_shape(ctx, body, wh, "records.sync.completed")
    item = body["data"]["object"]
    for field in ("resource_type", "patient_id", "connection_id", "total", "errors", "duration_ms"):
        ctx.require(field in item, f"records.sync.completed lacks {field}")
    ctx.require(item["patient_id"] == walked["patient_id"], "patient_id")
    ctx.require(isinstance(item["total"], int) and item["total"] >= 0, "total")
    ctx.require(isinstance(item["errors"], list), "errors is not a list")


@check(
    "WH-013",
    "webhooks",
    "records.sync.failed carries resource_type, patient_id, connection_id, error_message",
    "§4.1",
    needs_control=True,
)
def sync_failed_event(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx)
    pid = s.new_patient(ctx)["id"]
    s.sync_failed(ctx, pid)
    body = _one(ctx, box["id"], "records.sync.failed")
    _envelope_shape(ctx, body, wh, "records.sync.failed")
    item = body["data"]["object"]
    for field in ("resource_type", "patient_id", "connection_id", "error_message"):
        ctx.require(field in item, f"records.sync.failed lacks {field}")
    ctx.require(item["patient_id"] == pid, "patient_id")


@check(
    "WH-014",
    "webhooks",
    "Every delivery is a JSON POST whose Medblocks-Signature verifies (HMAC-SHA256 over "
    "t.raw body)",
    "§4.3",
    needs_control=True,
)
def signatures(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx)
    walked = s.active(ctx)
    ctx.control.refresh_failure(walked["attempt"]["id"])
    got = s.arrivals(ctx, box["id"])
    ctx.require(len(got) >= 2, f"only {len(got)} deliveries arrived")
    for request in got:
        ctx.require(request["method"] == "POST", f"a delivery used {request['method']}")
        kind = s.header_of(request, "Content-Type") or ""
        ctx.require(kind.startswith("application/json"), f"Content-Type {kind!r}")
        header = s.header_of(request, "Medblocks-Signature")
        ctx.require(header is not None, "a delivery has no Medblocks-Signature")
        ctx.require(
            s.signed_with(wh["secret"], request),
            f"the signature of {s.envelope_of(request).get('type')} does not verify over the "
            "raw body",
        )


@check(
    "WH-015",
    "webhooks",
    "The signature's t is the send's wall-clock time, also after a clock move (documented choice)",
    "§4.3",
    needs_control=True,
)
def signature_time(ctx: Context) -> None:
    box, _ = s.inbox_endpoint(ctx)
    ctx.control.advance(86400)
    s.sync_failed(ctx)
    (request,) = s.arrivals(ctx, box["id"])
    t, _ = s.parse_signature(s.header_of(request, "Medblocks-Signature") or "")
    ctx.require(
        abs(t - time.time()) <= TOLERANCE_S,
        f"t={t} is not the time of the send ({time.time():.0f})",
    )


@check(
    "WH-016",
    "webhooks",
    "An endpoint receives only the event types it subscribed to",
    "§4.1",
    needs_control=True,
)
def subscription_filter(ctx: Context) -> None:
    narrow, _ = s.inbox_endpoint(ctx, ["records.sync.failed"])
    wide, _ = s.inbox_endpoint(ctx, ["*"])
    s.active(ctx)
    s.sync_failed(ctx)
    narrow_types = {s.envelope_of(r)["type"] for r in s.arrivals(ctx, narrow["id"])}
    wide_types = {s.envelope_of(r)["type"] for r in s.arrivals(ctx, wide["id"])}
    ctx.require(narrow_types == {"records.sync.failed"}, f"the narrow endpoint got {narrow_types}")
    ctx.require(
        {"patient_session.completed", "records.sync.failed"} <= wide_types,
        f"the '*' endpoint got {wide_types}",
    )


@check(
    "WH-017",
    "webhooks",
    "A failing receiver gets nine attempts at 0, 1 m, 6 m, 36 m, 2 h 36 m, 14 h 36 m, "
    "38 h 36 m, 62 h 36 m, 86 h 36 m",
    "§4.4",
    needs_control=True,
)
def retry_schedule(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx, status=500)
    occurrence = s.sync_failed(ctx)
    start = s.ms(occurrence["created_at"])
    record = s.event_records(ctx, wh["id"])[0]
    ctx.require(record["attempts"] == 1, f"attempts {record['attempts']} after the first")
    ctx.require(
        s.ms(record["next_attempt_at"] or "1970-01-01T00:00:00Z") == start + SCHEDULE_MS[1],
        f"next_attempt_at {record['next_attempt_at']} is not 1 min after the event",
    )
    ctx.control.advance(5 * 86400)
    offsets = [s.ms(r["received_at"]) - start for r in s.arrivals(ctx, box["id"])]
    ctx.require(
        tuple(offsets) == SCHEDULE_MS,
        f"attempts at {[o // 1000 for o in offsets]} s, expected "
        f"{[o // 1000 for o in SCHEDULE_MS]} s",
    )
    logged = sorted(ctx.control.attempts(wh["id"]), key=lambda a: a["attempted_at"])
    ctx.require(
        [s.ms(a["attempted_at"]) - start for a in logged] == list(SCHEDULE_MS),
        "the endpoint's attempt log disagrees with what the receiver got",
    )


@check(
    "WH-018",
    "webhooks",
    "After the ninth failed attempt the endpoint is disabled and the event is terminal",
    "§3.4",
    needs_control=True,
)
def disabled_after_schedule(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx, status=503)
    s.sync_failed(ctx)
    ctx.control.advance(86 * 3600 + 35 * 60)
    before = s.ok(ctx, ctx.api.get(f"/webhooks/{wh['id']}"), "GET endpoint")
    ctx.require(before["status"] == "active", "disabled before the ninth attempt")
    ctx.control.advance(2 * 60)
    after = s.ok(ctx, ctx.api.get(f"/webhooks/{wh['id']}"), "GET endpoint")
    ctx.require(after["status"] == "disabled", f"status {after['status']} after nine failures")
    record = s.event_records(ctx, wh["id"])[0]
    ctx.require(record["attempts"] == 9, f"attempts {record['attempts']}")
    ctx.require(record["next_attempt_at"] is None, "next_attempt_at is set after the ninth")
    ctx.require(record["delivered_at"] is None, "delivered_at is set without a 2xx")
    ctx.require(record["last_status_code"] == 503, f"last_status_code {record['last_status_code']}")
    count = len(s.arrivals(ctx, box["id"]))
    ctx.control.advance(5 * 86400)
    ctx.require(len(s.arrivals(ctx, box["id"])) == count, "deliveries after the endpoint disabled")


@check(
    "WH-019",
    "webhooks",
    "A 2xx ends the retries: delivered_at set, next_attempt_at null, no more attempts",
    "§3.4",
    needs_control=True,
)
def delivered_stops(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx, sequence=[500, 502, 200])
    start = s.ms(s.sync_failed(ctx)["created_at"])
    ctx.control.advance(3600)
    record = s.event_records(ctx, wh["id"])[0]
    ctx.require(record["attempts"] == 3, f"attempts {record['attempts']}")
    ctx.require(record["next_attempt_at"] is None, "next_attempt_at set after a 2xx")
    ctx.require(
        record["delivered_at"] is not None
        and s.ms(record["delivered_at"]) == start + SCHEDULE_MS[2],
        f"delivered_at {record['delivered_at']}",
    )
    ctx.require(record["last_status_code"] == 200, f"last_status_code {record['last_status_code']}")
    ctx.control.advance(5 * 86400)
    ctx.require(len(s.arrivals(ctx, box["id"])) == 3, "attempts after the delivery")


@check(
    "WH-020",
    "webhooks",
    "An event record has the thirteen fields; its id is the envelope id the receiver got",
    "§1.7",
    needs_control=True,
)
def record_shape(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx)
    s.sync_failed(ctx)
    (record,) = s.event_records(ctx, wh["id"])
    ctx.require(set(record) == set(RECORD_FIELDS), f"fields {sorted(record)}")
    ctx.require(record["resource_type"] == "event", "resource_type")
    ctx.require(record["webhook_endpoint_id"] == wh["id"], "webhook_endpoint_id")
    (request,) = s.arrivals(ctx, box["id"])
    body = s.envelope_of(request)
    ctx.require(body["id"] == record["id"], "the envelope id is not the record id")
    ctx.require(body["data"] == record["data"], "the record's data differs from the delivery")
    ctx.require(record["attempts"] == 1 and record["delivered_at"] is not None, "not delivered")


@check(
    "WH-021",
    "webhooks",
    "Redeliver sends the same event again once per 60 s; sooner is 429 with Retry-After",
    "§4.4",
    needs_control=True,
)
def redeliver(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx)
    s.sync_failed(ctx)
    (record,) = s.event_records(ctx, wh["id"])
    path = f"/events/{record['id']}/redeliver"
    first = s.ok(ctx, ctx.api.post(path), "redeliver")
    ctx.require(set(first) == set(RECORD_FIELDS), f"fields {sorted(first)}")
    ctx.require(first["id"] == record["id"], "redeliver answered another event")
    ctx.require(first["attempts"] == 2, f"attempts {first['attempts']} after a redelivery")
    ctx.require(first["last_redelivered_at"] is not None, "last_redelivered_at not set")
    again = ctx.api.post(path)
    code = ((again.json or {}).get("error") or {}).get("code", "")
    envelope(ctx, again, 429, "rate_limit_error", code)  # §2.6 names no code for this limit
    retry = again.header("Retry-After") or ""
    ctx.require(retry.isdigit() and 1 <= int(retry) <= 60, f"Retry-After {retry!r}")
    ctx.control.advance(60)
    s.ok(ctx, ctx.api.post(path), "redeliver after 60 s")
    ids = {s.envelope_of(r)["id"] for r in s.arrivals(ctx, box["id"])}
    ctx.require(ids == {record["id"]}, f"redelivery used other event ids {ids}")
    missing = ctx.api.post("/events/evt_00000000000000000000000000/redeliver")
    envelope(ctx, missing, 404, "not_found_error", "resource_not_found")


@check(
    "WH-022",
    "webhooks",
    "After rotate-secret deliveries verify with the new secret and no longer with the old",
    "§4.3",
    needs_control=True,
)
def rotation_invalidates(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx)
    s.sync_failed(ctx)
    rotated = s.ok(ctx, ctx.api.post(f"/webhooks/{wh['id']}/rotate-secret"), "rotate")
    s.sync_failed(ctx)
    before, after = s.arrivals(ctx, box["id"])
    ctx.require(s.signed_with(wh["secret"], before), "the first delivery does not verify")
    ctx.require(s.signed_with(rotated["secret"], after), "a delivery after rotation fails")
    ctx.require(not s.signed_with(wh["secret"], after), "the old secret still verifies")


@check(
    "WH-023",
    "webhooks",
    "A disabled endpoint receives nothing; its events are kept with delivered=false "
    "(documented choice)",
    "§3.3",
    needs_control=True,
)
def disabled_receives_nothing(ctx: Context) -> None:
    box, wh = s.inbox_endpoint(ctx)
    s.ok(ctx, ctx.api.call("PATCH", f"/webhooks/{wh['id']}", {"status": "disabled"}), "PATCH")
    s.sync_failed(ctx)
    ctx.control.advance(86400)
    ctx.require(s.arrivals(ctx, box["id"]) == [], "a disabled endpoint received a delivery")
    pending = s.event_records(ctx, wh["id"], delivered="false")
    delivered = s.event_records(ctx, wh["id"], delivered="true")
    ctx.require(len(pending) == 1 and delivered == [], "delivered filter on a disabled endpoint")


@check(
    "WH-024",
    "webhooks",
    "GET /webhooks/{id}/events filters delivered=true and delivered=false",
    "§2.1",
    needs_control=True,
)
def delivered_filter(ctx: Context) -> None:
    _, wh = s.inbox_endpoint(ctx, sequence=[200, 500])
    s.sync_failed(ctx)
    s.sync_failed(ctx)
    done = s.event_records(ctx, wh["id"], delivered="true")
    pending = s.event_records(ctx, wh["id"], delivered="false")
    ctx.require(len(done) == 1 and done[0]["delivered_at"] is not None, "delivered=true")
    ctx.require(len(pending) == 1 and pending[0]["delivered_at"] is None, "delivered=false")
    ctx.require(len(s.event_records(ctx, wh["id"])) == 2, "unfiltered")


@check(
    "WH-025",
    "webhooks",
    "A generation B workspace emits patient_flow.completed (documented choice)",
    "§0",
    needs_control=True,
)
def generation_b_event(ctx: Context) -> None:
    ctx = s.in_generation(ctx, "B")
    box, wh = s.inbox_endpoint(ctx, ["patient_flow.completed"])
    created = s.ok(
        ctx,
        ctx.api.post("/patient-flows", {"patient_id": s.unique("p"), "return_url": s.RETURN_URL}),
        "POST /patient-flows",
    )
    ctx.control.done(created["id"])
    body = _one(ctx, box["id"], "patient_flow.completed")
    _envelope_shape(ctx, body, wh, "patient_flow.completed")
    ctx.require(body["data"]["object"]["id"] == created["id"], "another session")

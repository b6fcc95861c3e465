"""Delivering events: one record per (event, endpoint), attempts as stored jobs, retries, disable.

An attempt is a job (`webhook.attempt`) due at its scheduled instant. The job
does the HTTP POST through `rt.http` outside any transaction, then records the
outcome and schedules the next attempt in one transaction. A process killed
mid-attempt leaves the job pending, so the attempt is made again after a
restart (at-least-once).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
from statemachine import State, StateMachine

from simulator.core import pagination
from simulator.core.errors import ApiError, invalid, not_found
from simulator.core.lifecycle import edge, transition
from simulator.core.store import Store, dumps, loads
from simulator.core.timeutil import HOUR, MINUTE, SECOND, iso
from simulator.domain.rows import Row
from simulator.domain.webhooks import chaos, endpoints, occurrences
from simulator.domain.webhooks.endpoints import Endpoint
from simulator.domain.webhooks.occurrences import Occurrence, data_object
from simulator.domain.webhooks.signature import HEADER, signature_header

if TYPE_CHECKING:
    from simulator.core.jobs import Job
    from simulator.core.runtime import Runtime

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    occurrence_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    type TEXT NOT NULL,
    api_version TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    auto_attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER,
    delivered_ms INTEGER,
    last_status_code INTEGER,
    last_response_body TEXT,
    last_redelivered_ms INTEGER,
    chaos TEXT NOT NULL DEFAULT '[]',
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint
    ON webhook_deliveries (workspace_id, endpoint_id, seq);
CREATE INDEX IF NOT EXISTS webhook_deliveries_occurrence
    ON webhook_deliveries (workspace_id, occurrence_id);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    number INTEGER,
    trigger TEXT NOT NULL,
    url TEXT NOT NULL,
    attempted_ms INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    response_body TEXT,
    signature_header TEXT NOT NULL,
    chaos TEXT NOT NULL DEFAULT '[]',
    succeeded INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_attempts_endpoint
    ON webhook_attempts (workspace_id, endpoint_id, seq);
CREATE INDEX IF NOT EXISTS webhook_attempts_delivery
    ON webhook_attempts (workspace_id, delivery_id, seq);
"""

EVENT_PREFIX = "evt_"
ATTEMPT_JOB = "webhook.attempt"
# Delay before attempt n+1 after attempt n (index 0: the first attempt is immediate).
SCHEDULE_MS = (
    0,
    1 * MINUTE,
    5 * MINUTE,
    30 * MINUTE,
    2 * HOUR,
    12 * HOUR,
    24 * HOUR,
    24 * HOUR,
    24 * HOUR,
)
MAX_ATTEMPTS = len(SCHEDULE_MS)
TIMEOUT_SECONDS = 5.0
RESPONSE_BODY_LIMIT = 4096
REDELIVER_INTERVAL_MS = 60 * SECOND
USER_AGENT = "Medblocks-Webhooks/1.0 (connect-sim)"


class DeliveryLifecycle(StateMachine):
    """One event for one endpoint (internal; the API shows it through the record's fields).

    `pending` while automatic attempts remain; `delivered` once a 2xx came back
    (a manual redelivery can deliver from any state, and again); `exhausted`
    after the ninth automatic attempt failed; `stopped` when the endpoint was
    disabled with attempts still pending; `held` when created for a disabled
    endpoint (never attempted automatically).
    """

    pending = State(initial=True)
    held = State()
    delivered = State()
    exhausted = State()
    stopped = State()

    hold = pending.to(held)
    deliver = delivered.from_(pending, held, exhausted, stopped, delivered)
    exhaust = pending.to(exhausted)
    stop = pending.to(stopped)


PENDING = DeliveryLifecycle.pending.value
_STOP = edge(DeliveryLifecycle, "stop")


@dataclass(frozen=True, slots=True)
class Delivery(Row):
    """A row of `webhook_deliveries`: one event for one endpoint (`chaos`: JSON text)."""

    workspace_id: str
    id: str
    seq: int
    occurrence_id: str
    endpoint_id: str
    type: str
    api_version: str
    state: str
    attempts: int
    auto_attempts: int
    next_attempt_ms: int | None
    delivered_ms: int | None
    last_status_code: int | None
    last_response_body: str | None
    last_redelivered_ms: int | None
    chaos: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryAttempt(Row):
    """A row of `webhook_attempts`: one HTTP POST to an endpoint (`chaos`: JSON text)."""

    seq: int
    workspace_id: str
    delivery_id: str
    endpoint_id: str
    number: int | None
    trigger: str
    url: str
    attempted_ms: int
    duration_ms: int
    status_code: int | None
    error: str | None
    response_body: str | None
    signature_header: str
    chaos: str
    succeeded: int


def job_key(delivery_id: str) -> str:
    return f"webhook:{delivery_id}"


def schedule_attempt(rt: Runtime, ws_id: str, delivery_id: str, number: int, due: int) -> None:
    """The job of automatic attempt `number`; it carries the number, so a job run
    again after a crash (its attempt already recorded) knows it is stale."""
    payload = {"delivery_id": delivery_id, "attempt": number}
    rt.scheduler.schedule_later(ws_id, ATTEMPT_JOB, due, payload, key=job_key(delivery_id))


# -- creating deliveries ------------------------------------------------------------


def fan_out(rt: Runtime, ws_id: str, occurrence: Occurrence) -> list[str]:
    """Create a delivery for every endpoint subscribed to the occurrence's type.

    Active endpoints get a first attempt due now (or later under chaos);
    disabled ones get a record that is kept but not sent.
    """
    store = rt.store
    created = []
    with store.tx():
        now = rt.now(ws_id)
        for endpoint in endpoints.all_rows(store, ws_id):
            if not endpoints.subscribes(endpoint, occurrence.type):
                continue
            delivery_id, seq = rt.new_id(ws_id, EVENT_PREFIX)
            active = endpoint.status == "active"
            due, marks = chaos.first_attempt(rt, ws_id, endpoint, now) if active else (None, [])
            store.execute(
                "INSERT INTO webhook_deliveries (workspace_id, id, seq, occurrence_id,"
                " endpoint_id, type, api_version, state, next_attempt_ms, chaos, created_ms)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    ws_id,
                    delivery_id,
                    seq,
                    occurrence.id,
                    endpoint.id,
                    occurrence.type,
                    endpoint.api_version,
                    PENDING if active else transition(DeliveryLifecycle, PENDING, "hold"),
                    due,
                    dumps(marks),
                    occurrence.created_ms,
                ),
            )
            if active:
                schedule_attempt(rt, ws_id, delivery_id, 1, due)
            created.append(delivery_id)
    return created


# -- reading -------------------------------------------------------------------------


def find(store: Store, ws_id: str, delivery_id: str) -> Delivery | None:
    return Delivery.maybe(
        store.one(
            "SELECT * FROM webhook_deliveries WHERE workspace_id = ? AND id = ?",
            (ws_id, delivery_id),
        )
    )


def get_row(store: Store, ws_id: str, delivery_id: str) -> Delivery:
    delivery = find(store, ws_id, delivery_id)
    if delivery is None:
        raise not_found("event", delivery_id)
    return delivery


def recent_of(store: Store, ws_id: str, endpoint_id: str, limit: int) -> list[Delivery]:
    """An endpoint's newest deliveries, newest first."""
    rows = store.all(
        "SELECT * FROM webhook_deliveries WHERE workspace_id = ? AND endpoint_id = ?"
        " ORDER BY seq DESC LIMIT ?",
        (ws_id, endpoint_id, limit),
    )
    return [Delivery.from_row(r) for r in rows]


def of_occurrence(store: Store, ws_id: str, occurrence_id: str) -> list[Delivery]:
    """The deliveries of one occurrence (one per endpoint it went to), oldest first."""
    rows = store.all(
        "SELECT * FROM webhook_deliveries WHERE workspace_id = ? AND occurrence_id = ?"
        " ORDER BY seq",
        (ws_id, occurrence_id),
    )
    return [Delivery.from_row(r) for r in rows]


def attempts_of(store: Store, ws_id: str, delivery_id: str) -> list[DeliveryAttempt]:
    """Every HTTP attempt of one delivery, oldest first."""
    rows = store.all(
        "SELECT * FROM webhook_attempts WHERE workspace_id = ? AND delivery_id = ? ORDER BY seq",
        (ws_id, delivery_id),
    )
    return [DeliveryAttempt.from_row(r) for r in rows]


def _data(store: Store, ws_id: str, delivery: Delivery) -> dict[str, Any]:
    """The event's `data`: the object of the delivery's occurrence."""
    occurrence = occurrences.find(store, ws_id, delivery.occurrence_id)
    return {"object": data_object(occurrence) if occurrence else {}}


def render(store: Store, ws_id: str, delivery: Delivery) -> dict[str, Any]:
    """The `WebhookEventRecord` of a delivery."""
    return {
        "id": delivery.id,
        "resource_type": "event",
        "webhook_endpoint_id": delivery.endpoint_id,
        "type": delivery.type,
        "data": _data(store, ws_id, delivery),
        "api_version": delivery.api_version,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_ms),
        "delivered_at": iso(delivery.delivered_ms),
        "last_status_code": delivery.last_status_code,
        "last_response_body": delivery.last_response_body,
        "last_redelivered_at": iso(delivery.last_redelivered_ms),
        "created_at": iso(delivery.created_ms),
    }


def envelope(store: Store, ws_id: str, delivery: Delivery) -> dict[str, Any]:
    """What the receiver gets."""
    return {
        "id": delivery.id,
        "object": "event",
        "type": delivery.type,
        "api_version": delivery.api_version,
        "created_at": iso(delivery.created_ms),
        "data": _data(store, ws_id, delivery),
    }


def envelope_bytes(store: Store, ws_id: str, delivery: Delivery) -> bytes:
    return json.dumps(
        envelope(store, ws_id, delivery), separators=(",", ":"), ensure_ascii=False
    ).encode()


# The `delivered` filter of list-events: the condition on the record for each value.
_DELIVERED = {"true": "delivered_ms IS NOT NULL", "false": "delivered_ms IS NULL"}


def list_page(
    store: Store,
    ws_id: str,
    args: Mapping[str, str],
    *,
    endpoint_id: str,
    delivered: str | None = None,
) -> dict[str, Any]:
    """A page of an endpoint's event records, newest first; `delivered` is `true` or `false`."""
    endpoints.get_row(store, ws_id, endpoint_id)
    if delivered is not None and delivered not in _DELIVERED:
        raise invalid("'delivered' must be 'true' or 'false'", "delivered")
    return pagination.page(
        store,
        "webhook_deliveries",
        kind=f"webhook_events.{endpoint_id}?delivered={delivered or ''}",
        match={"workspace_id": ws_id, "endpoint_id": endpoint_id},
        condition=_DELIVERED.get(delivered or "", ""),
        args=args,
        render=lambda row: render(store, ws_id, Delivery.from_row(row)),
    )


def attempts_page(
    store: Store,
    ws_id: str,
    args: Mapping[str, str],
    *,
    endpoint_id: str,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A page of the HTTP attempts made to an endpoint, newest first, optionally for one event."""
    endpoints.get_row(store, ws_id, endpoint_id)
    return pagination.page(
        store,
        "webhook_attempts",
        kind=f"webhook_attempts.{endpoint_id}?event_id={event_id or ''}",
        match={"workspace_id": ws_id, "endpoint_id": endpoint_id, "delivery_id": event_id},
        args=args,
        render=lambda row: render_attempt(DeliveryAttempt.from_row(row)),
    )


# -- sending ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """One POST to a receiver and what came back."""

    started_ms: int
    duration_ms: int
    status_code: int | None
    response_body: str | None
    error: str | None
    header: str
    faults: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def _truncate(content: bytes) -> str:
    return content[:RESPONSE_BODY_LIMIT].decode("utf-8", errors="replace")


def send(
    rt: Runtime,
    ws_id: str,
    delivery: Delivery,
    endpoint: Endpoint,
    attempt: int,
    marks: list[str],
) -> Outcome:
    """POST the signed envelope to the endpoint (no transaction is held here)."""
    store = rt.store
    started = rt.now(ws_id)
    body = envelope_bytes(store, ws_id, delivery)
    faults = list(marks) + chaos.signature_faults(rt, ws_id, endpoint, delivery.id, attempt)
    timestamp = chaos.signing_time(rt, ws_id, endpoint)
    if "stale_timestamp" in faults:  # stale relative to the signing time, whichever clock
        timestamp -= chaos.STALE_SECONDS
    key = endpoint.previous_secret if "previous_secret" in faults else endpoint.secret
    header = signature_header(body, [key], timestamp)
    if "bad_signature" in faults:
        header = signature_header(body, ["whsec_" + "0" * 40 + delivery.id], timestamp)
    sent = chaos.tamper(body) if "tampered_body" in faults else body
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER: header,
    }
    clock_start = time.monotonic()
    status: int | None = None
    text: str | None = None
    error: str | None = None
    try:
        resp = rt.http.post(
            endpoint.url,
            data=sent,
            headers=headers,
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
        )
        status, text = resp.status_code, _truncate(resp.content)
    except requests.Timeout:
        error = f"timeout: no response within {TIMEOUT_SECONDS:g} s"
    except requests.RequestException as exc:
        error = f"connection_error: {type(exc).__name__}"
    elapsed = time.monotonic() - clock_start
    if error is None and elapsed > TIMEOUT_SECONDS:
        error = f"timeout: response after {elapsed:.1f} s (limit {TIMEOUT_SECONDS:g} s)"
    return Outcome(started, int(elapsed * 1000), status, text, error, header, faults)


def _log(
    rt: Runtime, ws_id: str, delivery: Delivery, outcome: Outcome, trigger: str, number: int | None
) -> None:
    rt.store.execute(
        "INSERT INTO webhook_attempts (workspace_id, delivery_id, endpoint_id, number, trigger,"
        " url, attempted_ms, duration_ms, status_code, error, response_body, signature_header,"
        " chaos, succeeded) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            ws_id,
            delivery.id,
            delivery.endpoint_id,
            number,
            trigger,
            _endpoint_url(rt.store, ws_id, delivery.endpoint_id),
            outcome.started_ms,
            outcome.duration_ms,
            outcome.status_code,
            outcome.error,
            outcome.response_body,
            outcome.header,
            dumps(outcome.faults),
            int(outcome.ok),
        ),
    )


def _endpoint_url(store: Store, ws_id: str, endpoint_id: str) -> str:
    return (
        store.scalar(
            "SELECT url FROM webhook_endpoints WHERE workspace_id = ? AND id = ?",
            (ws_id, endpoint_id),
        )
        or ""
    )


def _record_result(rt: Runtime, ws_id: str, delivery_id: str, outcome: Outcome) -> None:
    rt.store.execute(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = ?,"
        " last_response_body = ? WHERE workspace_id = ? AND id = ?",
        (outcome.status_code, outcome.response_body, ws_id, delivery_id),
    )


def move(rt: Runtime, ws_id: str, delivery_id: str, event: str, **fields: Any) -> None:
    """Apply a DeliveryLifecycle event to a delivery (raises on a bad move) and set columns."""
    state = transition(DeliveryLifecycle, get_row(rt.store, ws_id, delivery_id).state, event)
    columns = {"state": state, **fields}
    assignments = ", ".join(f"{name} = ?" for name in columns)
    rt.store.execute(
        f"UPDATE webhook_deliveries SET {assignments} WHERE workspace_id = ? AND id = ?",
        (*columns.values(), ws_id, delivery_id),
    )


def _mark_delivered(rt: Runtime, ws_id: str, delivery_id: str) -> None:
    move(rt, ws_id, delivery_id, "deliver", delivered_ms=rt.now(ws_id), next_attempt_ms=None)
    rt.scheduler.cancel(ws_id, kind=ATTEMPT_JOB, key=job_key(delivery_id))


# -- the automatic attempt (a job) --------------------------------------------------------


def attempt_job(rt: Runtime, job: Job) -> None:
    ws_id = job.workspace_id
    store = rt.store
    delivery = find(store, ws_id, job.payload["delivery_id"])
    if delivery is None or delivery.state != PENDING:
        return
    endpoint = endpoints.find(store, ws_id, delivery.endpoint_id)
    if endpoint is None or endpoint.status != "active":
        return
    number = delivery.auto_attempts + 1
    if job.payload.get("attempt", number) != number:
        return  # already made: a crash came between recording it and settling this job
    marks = loads(delivery.chaos, []) if number == 1 else []
    outcome = send(rt, ws_id, delivery, endpoint, number, marks)
    with store.tx():
        _record_automatic(rt, ws_id, delivery.id, outcome)
    if outcome.ok and chaos.wants_duplicate(rt, ws_id, endpoint, delivery.id, number):
        copy = send(rt, ws_id, delivery, endpoint, number, ["duplicate"])
        with store.tx():
            _log(rt, ws_id, delivery, copy, "duplicate", None)


def _record_automatic(rt: Runtime, ws_id: str, delivery_id: str, outcome: Outcome) -> None:
    store = rt.store
    delivery = find(store, ws_id, delivery_id)
    if delivery is None:  # the endpoint was deleted meanwhile
        return
    _record_result(rt, ws_id, delivery_id, outcome)
    auto = delivery.auto_attempts + 1
    store.execute(
        "UPDATE webhook_deliveries SET auto_attempts = ? WHERE workspace_id = ? AND id = ?",
        (auto, ws_id, delivery_id),
    )
    _log(rt, ws_id, delivery, outcome, "automatic", delivery.attempts + 1)
    if delivery.state != PENDING:  # delivered by a redelivery while this one was in flight
        return
    if outcome.ok:
        _mark_delivered(rt, ws_id, delivery_id)
    elif auto < MAX_ATTEMPTS:
        due = outcome.started_ms + SCHEDULE_MS[auto]
        store.execute(
            "UPDATE webhook_deliveries SET next_attempt_ms = ? WHERE workspace_id = ? AND id = ?",
            (due, ws_id, delivery_id),
        )
        schedule_attempt(rt, ws_id, delivery_id, auto + 1, due)
    else:
        move(rt, ws_id, delivery_id, "exhaust", next_attempt_ms=None)
        disable(rt, ws_id, delivery.endpoint_id)
        log.info(
            "webhook endpoint %s disabled after %d failed attempts", delivery.endpoint_id, auto
        )


# -- endpoint-level effects --------------------------------------------------------------


def disable(rt: Runtime, ws_id: str, endpoint_id: str) -> None:
    """Disable an endpoint and stop the automatic attempts of its pending deliveries."""
    with rt.store.tx():
        endpoints.set_status(rt, ws_id, endpoint_id, "disable")
        stop_pending(rt, ws_id, endpoint_id)


def stop_pending(rt: Runtime, ws_id: str, endpoint_id: str) -> None:
    store = rt.store
    with store.tx():
        rows = store.all(
            "SELECT id FROM webhook_deliveries WHERE workspace_id = ? AND endpoint_id = ?"
            " AND " + _STOP.where("state"),
            (ws_id, endpoint_id, *_STOP.sources),
        )
        for row in rows:
            rt.scheduler.cancel(ws_id, kind=ATTEMPT_JOB, key=job_key(row["id"]))
        store.execute(
            "UPDATE webhook_deliveries SET state = ?, next_attempt_ms = NULL"
            " WHERE workspace_id = ? AND endpoint_id = ? AND " + _STOP.where("state"),
            (_STOP.target, ws_id, endpoint_id, *_STOP.sources),
        )


def delete_endpoint(rt: Runtime, ws_id: str, endpoint_id: str) -> None:
    """Delete an endpoint with its delivery history."""
    store = rt.store
    with store.tx():
        endpoints.get_row(store, ws_id, endpoint_id)
        stop_pending(rt, ws_id, endpoint_id)
        for table in ("webhook_attempts", "webhook_deliveries"):
            store.execute(
                f"DELETE FROM {table} WHERE workspace_id = ? AND endpoint_id = ?",
                (ws_id, endpoint_id),
            )
        endpoints.delete_row(store, ws_id, endpoint_id)


# -- manual redelivery ---------------------------------------------------------------------


def redeliver(rt: Runtime, ws_id: str, delivery_id: str) -> dict[str, Any]:
    """One more attempt now (same `evt_` id); 1 per event per 60 s. Returns the record."""
    store = rt.store
    with store.tx():
        delivery = get_row(store, ws_id, delivery_id)
        endpoint = endpoints.get_row(store, ws_id, delivery.endpoint_id)
        if endpoint.status != "active":
            raise ApiError(
                "resource_conflict",
                f"Webhook endpoint '{endpoint.id}' is disabled; re-enable it with"
                ' PATCH /webhooks/{id} {"status": "active"} before redelivering',
            )
        now = rt.now(ws_id)
        last = delivery.last_redelivered_ms
        if last is not None and now - last < REDELIVER_INTERVAL_MS:
            wait = max(1, -(-(REDELIVER_INTERVAL_MS - (now - last)) // SECOND))
            raise ApiError(
                "throttled",
                f"Event '{delivery_id}' can be redelivered once every 60 seconds;"
                f" retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        store.execute(
            "UPDATE webhook_deliveries SET last_redelivered_ms = ? WHERE workspace_id = ? AND id = ?",
            (now, ws_id, delivery_id),
        )
        delivery = get_row(store, ws_id, delivery_id)
    outcome = send(rt, ws_id, delivery, endpoint, delivery.attempts + 1, [])
    with store.tx():
        current = get_row(store, ws_id, delivery_id)
        _record_result(rt, ws_id, delivery_id, outcome)
        _log(rt, ws_id, current, outcome, "redelivery", current.attempts + 1)
        if outcome.ok:
            _mark_delivered(rt, ws_id, delivery_id)
        return render(store, ws_id, get_row(store, ws_id, delivery_id))


# -- the attempt log (control plane) ---------------------------------------------------------


def render_attempt(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "resource_type": "webhook_attempt",
        "event_id": attempt.delivery_id,
        "webhook_endpoint_id": attempt.endpoint_id,
        "attempt": attempt.number,
        "trigger": attempt.trigger,
        "url": attempt.url,
        "attempted_at": iso(attempt.attempted_ms),
        "duration_ms": attempt.duration_ms,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "response_body": attempt.response_body,
        "signature_header": attempt.signature_header,
        "chaos": loads(attempt.chaos, []),
        "succeeded": bool(attempt.succeeded),
    }

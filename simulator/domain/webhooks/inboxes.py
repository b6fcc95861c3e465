"""Built-in receivers: a URL under the simulator that records every delivery it gets.

An inbox answers with a fixed status, an optional delay (real time: it is how
a slow receiver is simulated), or a sequence of answers (`[500, 500, 200]`, the
last one repeating). Each request is stored with its headers, raw body and a
signature verdict: checked with the inbox's own `secret` if it has one, else
with the current secret of every endpoint of the workspace that points at it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.core import ids, pagination, workspaces
from simulator.core.errors import not_found
from simulator.core.store import Store, dumps, loads
from simulator.core.timeutil import iso
from simulator.domain.rows import Row
from simulator.domain.webhooks import chaos
from simulator.domain.webhooks.signature import (
    DEFAULT_TOLERANCE,
    HEADER,
    SignatureError,
    verify_signature,
)

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_inboxes (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    secret TEXT,
    tolerance INTEGER NOT NULL,
    responses TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS webhook_inboxes_id ON webhook_inboxes (id);
CREATE TABLE IF NOT EXISTS webhook_inbox_requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    inbox_id TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    method TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    event_id TEXT,
    event_type TEXT,
    signature_valid INTEGER,
    signature_reason TEXT,
    response_status INTEGER NOT NULL,
    response_delay_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_inbox_requests_inbox
    ON webhook_inbox_requests (workspace_id, inbox_id, seq);
"""

PREFIX = "inb_"
MAX_DELAY_MS = 60_000
RECENT_LIMIT = 100

# A final answer's status: an inbox cannot answer 1xx (that is not a final response).
_STATUS = {"type": "integer", "minimum": 200, "maximum": 599}
_ANSWER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status"],
    "properties": {
        "status": {**_STATUS, "description": "The HTTP status to answer"},
        "delay_ms": {
            "description": "Wait this long before answering",
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_DELAY_MS,
        },
        "body": {"description": "The response body", "type": "string", "maxLength": 65536},
    },
}
INBOX_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "status": {**_STATUS, "description": "The HTTP status every request gets (default 200)"},
        "delay_ms": {
            "description": "Wait this long before answering",
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_DELAY_MS,
        },
        "body": {"description": "The response body", "type": "string", "maxLength": 65536},
        "sequence": {
            "description": "Answers in order, one per request (a status or a full answer); the last one repeats",
            "type": "array",
            "minItems": 1,
            "maxItems": 1000,
            "items": {
                "anyOf": [_STATUS, _ANSWER],
            },
        },
        "secret": {
            "description": "The endpoint's `whsec_` secret, to check each request's signature",
            "type": ["string", "null"],
            "minLength": 1,
            "maxLength": 200,
        },
        "tolerance": {
            "description": "Seconds a signature's timestamp may be off (default 300)",
            "type": "integer",
            "minimum": 0,
            "maximum": 86400 * 365,
        },
    },
}


@dataclass(frozen=True)
class Answer:
    status: int
    delay_ms: int
    body: str


@dataclass(frozen=True, slots=True)
class Inbox(Row):
    """A row of `webhook_inboxes` (`responses` is the JSON text of the answer plan)."""

    workspace_id: str
    id: str
    seq: int
    secret: str | None
    tolerance: int
    responses: str
    position: int
    created_ms: int


@dataclass(frozen=True, slots=True)
class InboxRequest(Row):
    """A row of `webhook_inbox_requests`: one request an inbox received (`headers`: JSON)."""

    seq: int
    workspace_id: str
    inbox_id: str
    received_ms: int
    method: str
    headers: str
    body: bytes
    event_id: str | None
    event_type: str | None
    signature_valid: int | None
    signature_reason: str | None
    response_status: int
    response_delay_ms: int


def responses_of(body: dict[str, Any]) -> dict[str, Any]:
    """The stored answer plan of an inbox input."""
    default = {
        "status": int(body.get("status", 200)),  # JSON 500.0 is the integer 500
        "delay_ms": body.get("delay_ms", 0),
        "body": body.get("body"),
    }
    sequence = []
    for item in body.get("sequence") or []:
        answer = {"status": item} if isinstance(item, int | float) else dict(item)
        answer["status"] = int(answer["status"])
        answer.setdefault("delay_ms", default["delay_ms"])
        answer.setdefault("body", default["body"])
        sequence.append(answer)
    return {"default": default, "sequence": sequence}


def receive_url(rt: Runtime, inbox_id: str) -> str:
    return f"{rt.base_url}/_sim/inboxes/{inbox_id}/receive"


def _unique_id(rt: Runtime, ws_id: str) -> tuple[str, int]:
    """A seeded id, unique across workspaces: the receive URL names no workspace, so when
    another workspace with the same seed already holds the seeded id, the next salted
    one is used (the same on every run that makes the same calls)."""
    inbox_id, seq = rt.new_id(ws_id, PREFIX)
    salt = 0
    while _by_id(rt.store, inbox_id) is not None:
        salt += 1
        inbox_id = ids.salted_id(PREFIX, workspaces.get(rt.store, ws_id).seed, seq, salt)
    return inbox_id, seq


def create(rt: Runtime, ws_id: str, body: dict[str, Any]) -> Inbox:
    store = rt.store
    with store.tx():
        inbox_id, seq = _unique_id(rt, ws_id)
        store.execute(
            "INSERT INTO webhook_inboxes (workspace_id, id, seq, secret, tolerance, responses,"
            " created_ms) VALUES (?,?,?,?,?,?,?)",
            (
                ws_id,
                inbox_id,
                seq,
                body.get("secret"),
                body.get("tolerance", DEFAULT_TOLERANCE),
                dumps(responses_of(body)),
                rt.now(ws_id),
            ),
        )
        return get_row(store, ws_id, inbox_id)


def configure(rt: Runtime, ws_id: str, inbox_id: str, body: dict[str, Any]) -> Inbox:
    """Replace the answer plan (the sequence starts again); keeps what arrived."""
    store = rt.store
    with store.tx():
        inbox = get_row(store, ws_id, inbox_id)
        store.execute(
            "UPDATE webhook_inboxes SET responses = ?, position = 0, secret = ?, tolerance = ?"
            " WHERE workspace_id = ? AND id = ?",
            (
                dumps(responses_of(body)),
                body["secret"] if "secret" in body else inbox.secret,
                body.get("tolerance", inbox.tolerance),
                ws_id,
                inbox_id,
            ),
        )
        return get_row(store, ws_id, inbox_id)


def get_row(store: Store, ws_id: str, inbox_id: str) -> Inbox:
    row = store.one(
        "SELECT * FROM webhook_inboxes WHERE workspace_id = ? AND id = ?", (ws_id, inbox_id)
    )
    if row is None:
        raise not_found("inbox", inbox_id)
    return Inbox.from_row(row)


def _by_id(store: Store, inbox_id: str) -> Inbox | None:
    """The inbox `inbox_id` in any workspace (its receive URL names no workspace)."""
    return Inbox.maybe(store.one("SELECT * FROM webhook_inboxes WHERE id = ?", (inbox_id,)))


def list_page(rt: Runtime, ws_id: str, args: Mapping[str, str]) -> dict[str, Any]:
    """A page of the workspace's inboxes, newest first, without what they received."""
    return pagination.page(
        rt.store,
        "webhook_inboxes",
        kind="inboxes",
        match={"workspace_id": ws_id},
        args=args,
        render=lambda row: render(rt, Inbox.from_row(row), with_received=False),
    )


def requests_page(
    store: Store, ws_id: str, args: Mapping[str, str], *, inbox_id: str
) -> dict[str, Any]:
    """A page of the requests an inbox received, newest first."""
    get_row(store, ws_id, inbox_id)
    return pagination.page(
        store,
        "webhook_inbox_requests",
        kind=f"inbox_requests.{inbox_id}",
        match={"workspace_id": ws_id, "inbox_id": inbox_id},
        args=args,
        render=lambda row: render_request(InboxRequest.from_row(row)),
    )


def delete(store: Store, ws_id: str, inbox_id: str) -> None:
    with store.tx():
        get_row(store, ws_id, inbox_id)
        store.execute(
            "DELETE FROM webhook_inbox_requests WHERE workspace_id = ? AND inbox_id = ?",
            (ws_id, inbox_id),
        )
        store.execute(
            "DELETE FROM webhook_inboxes WHERE workspace_id = ? AND id = ?", (ws_id, inbox_id)
        )


def render(rt: Runtime, inbox: Inbox, *, with_received: bool = True) -> dict[str, Any]:
    store = rt.store
    plan = loads(inbox.responses, {})
    count = store.scalar(
        "SELECT COUNT(*) FROM webhook_inbox_requests WHERE workspace_id = ? AND inbox_id = ?",
        (inbox.workspace_id, inbox.id),
    )
    body: dict[str, Any] = {
        "id": inbox.id,
        "resource_type": "inbox",
        "url": receive_url(rt, inbox.id),
        "status": plan["default"]["status"],
        "delay_ms": plan["default"]["delay_ms"],
        "sequence": plan["sequence"],
        "sequence_position": inbox.position,
        "has_secret": inbox.secret is not None,
        "tolerance": inbox.tolerance,
        "received_count": count,
        "created_at": iso(inbox.created_ms),
    }
    if with_received:
        recent = store.all(
            "SELECT * FROM (SELECT * FROM webhook_inbox_requests WHERE workspace_id = ?"
            " AND inbox_id = ? ORDER BY seq DESC LIMIT ?) AS recent ORDER BY seq",
            (inbox.workspace_id, inbox.id, RECENT_LIMIT),
        )
        body["received"] = [render_request(InboxRequest.from_row(r)) for r in recent]
    return body


def render_request(request: InboxRequest) -> dict[str, Any]:
    raw = bytes(request.body)
    return {
        "resource_type": "inbox_request",
        "received_at": iso(request.received_ms),
        "method": request.method,
        "headers": loads(request.headers, {}),
        "body": raw.decode("utf-8", errors="replace"),
        "event_id": request.event_id,
        "event_type": request.event_type,
        "signature": {
            "valid": _tristate(request.signature_valid),
            "reason": request.signature_reason,
        },
        "response_status": request.response_status,
        "response_delay_ms": request.response_delay_ms,
    }


def _tristate(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _secrets_for(rt: Runtime, inbox: Inbox) -> list[tuple[str, bool]]:
    """The secrets to try, each with whether its sender signs with virtual time."""
    if inbox.secret:
        return [(inbox.secret, False)]
    found = rt.store.all(
        "SELECT secret, chaos FROM webhook_endpoints WHERE workspace_id = ? AND url = ?"
        " ORDER BY seq",
        (inbox.workspace_id, receive_url(rt, inbox.id)),
    )
    return [(r["secret"], chaos.signs_virtually(loads(r["chaos"], {}))) for r in found]


def verdict(
    rt: Runtime, inbox: Inbox, raw: bytes, header: str | None
) -> tuple[bool | None, str | None]:
    """Whether the signature verifies (None when the inbox knows no secret) and why not.

    Like a real receiver, the inbox checks the timestamp against the wall clock;
    against the workspace's clock for an endpoint that opted into virtual signing.
    """
    secrets = _secrets_for(rt, inbox)
    if not secrets:
        return None, "no_secret_known"
    reason = None
    for secret, virtual in secrets:
        now = (rt.now(inbox.workspace_id) if virtual else rt.wall()) / 1000
        try:
            verify_signature(raw, header, secret, tolerance=inbox.tolerance, now=now)
            return True, None
        except SignatureError as exc:
            reason = reason or exc.reason
    return False, reason


def receive(
    rt: Runtime, inbox_id: str, method: str, headers: dict[str, str], raw: bytes
) -> tuple[Answer, bool]:
    """Record one request; returns the answer to give (the caller applies the delay)."""
    store = rt.store
    inbox = _by_id(store, inbox_id)
    if inbox is None:
        return Answer(404, 0, '{"error":"no such inbox"}'), False
    ws_id = inbox.workspace_id
    valid, reason = verdict(rt, inbox, raw, headers.get(HEADER))
    event_id = event_type = None
    try:
        decoded = json.loads(raw)
        if isinstance(decoded, dict):
            event_id, event_type = decoded.get("id"), decoded.get("type")
    except ValueError:
        pass
    with store.tx():
        inbox = _by_id(store, inbox_id)
        plan = loads(inbox.responses, {})
        position = inbox.position
        sequence = plan["sequence"]
        if sequence:
            answer = sequence[min(position, len(sequence) - 1)]
            store.execute(
                "UPDATE webhook_inboxes SET position = ? WHERE id = ?", (position + 1, inbox_id)
            )
        else:
            answer = plan["default"]
        store.execute(
            "INSERT INTO webhook_inbox_requests (workspace_id, inbox_id, received_ms, method,"
            " headers, body, event_id, event_type, signature_valid, signature_reason,"
            " response_status, response_delay_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                ws_id,
                inbox_id,
                rt.now(ws_id),
                method,
                dumps(headers),
                raw,
                event_id if isinstance(event_id, str) else None,
                event_type if isinstance(event_type, str) else None,
                None if valid is None else int(valid),
                reason,
                answer["status"],
                answer["delay_ms"],
            ),
        )
    text = answer["body"]
    if text is None:
        ok = 200 <= answer["status"] < 300
        text = '{"received":true}' if ok else f'{{"error":"inbox answered {answer["status"]}"}}'
    return Answer(answer["status"], answer["delay_ms"], text), True

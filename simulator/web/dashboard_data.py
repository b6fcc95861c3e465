"""What the dashboard shows of one workspace, read through the domain modules.

`overview(rt, ws_id)` answers plain dicts of display values only: no token, secret,
link token, API key or signature ever reaches a template, so none can be rendered.
Each object carries the anchors of the objects it links to (`#session-…`,
`#conn-…`, `#event-…`, `#delivery-…`, `#endpoint-…`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.core.store import loads
from simulator.core.timeutil import iso
from simulator.domain import attempts, connections, keepalive, pulls, sessions
from simulator.domain.connections import Connection
from simulator.domain.webhooks import chaos, deliveries, endpoints, occurrences, payloads
from simulator.domain.webhooks.occurrences import Occurrence

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SESSIONS_SHOWN = 50
CONNECTIONS_SHOWN = 50
EVENTS_SHOWN = 50
DELIVERIES_SHOWN = 20
PULLS_SHOWN = 5


@dataclass(frozen=True)
class Moment:
    """An instant as the page shows it: ISO text and how far from the workspace's now."""

    iso: str
    relative: str


def _relative(delta_ms: int) -> str:
    seconds = abs(delta_ms) // 1000
    if seconds < 60:
        amount = f"{seconds} s"
    elif seconds < 3600:
        amount = f"{seconds // 60} min"
    elif seconds < 86400 * 2:
        amount = f"{seconds // 3600} h {seconds % 3600 // 60} min"
    else:
        amount = f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    if delta_ms == 0:
        return "now"
    return f"in {amount}" if delta_ms > 0 else f"{amount} ago"


def moment(ms: int | None, now: int) -> Moment | None:
    if ms is None:
        return None
    return Moment(iso(ms) or "", _relative(ms - now))


def _source_name(rt: Runtime, source_id: str) -> str:
    source = rt.catalog.get(source_id)
    return source.name if source is not None else source_id


def link(anchor: str, label: str) -> dict[str, str]:
    """A link to another object on the page: its anchor and the text shown."""
    return {"anchor": anchor, "label": label}


def _conn_link(conn: Connection) -> dict[str, str]:
    return link(f"conn-{conn.attempt_id}", conn.id or conn.attempt_id)


def _about(
    occurrence: Occurrence, session_ids: set[str], conns: list[Connection]
) -> list[dict[str, str]]:
    """Links to the sessions and connections (of those shown) an event is about."""
    data = occurrences.data_object(occurrence)
    found: list[dict[str, str]] = []
    object_id = data.get("id")
    if isinstance(object_id, str) and object_id in session_ids:
        found.append(link(f"session-{object_id}", object_id))
    for conn in conns:
        if conn.id is None:
            continue
        if conn.id == object_id or (
            data.get("resource_type") == payloads.RECORDS_SYNC
            and data.get("patient_id") == conn.patient_id
            and data.get("connection_id") == conn.source_id
        ):
            found.append(_conn_link(conn))
    return found


def _session(
    session: sessions.Session, now: int, conn_links: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "anchor": f"session-{session.id}",
        "id": session.id,
        "status": session.status,
        "patient_id": session.patient_id,
        "mode": "Direct" if session.connection_id else "Picker",
        "created": moment(session.created_ms, now),
        "expires": moment(session.expires_ms, now),
        "completed": moment(session.completed_ms, now),
        "connections": conn_links,
    }


def _connection(rt: Runtime, ws_id: str, conn: Connection, now: int) -> dict[str, Any]:
    changes = connections.history(rt.store, ws_id, conn.attempt_id)
    history = [
        {"status": c.status, "code": c.failure_code, "at": moment(c.changed_ms, now)}
        for c in changes
    ]
    tokens = attempts.tokens_of(rt, ws_id, conn.attempt_id)
    token: dict[str, Any] | None = None
    if tokens is not None:  # expiry and counts only, never a token value
        has_access = tokens.access_token is not None
        token = {
            "access": "held (redacted)" if has_access else "none",
            "refresh": "held (redacted)" if tokens.refresh_token else "none",
            "access_expires": moment(tokens.access_expires_ms, now) if has_access else None,
            "next_refresh": moment(keepalive.refresh_due_ms(rt, tokens), now)
            if has_access and tokens.refresh_token and conn.status == "active"
            else None,
            "refreshes": tokens.refresh_count,
            "last_refresh_error": tokens.last_refresh_error,
        }
    return {
        "anchor": f"conn-{conn.attempt_id}",
        "id": conn.id,
        "attempt_id": conn.attempt_id,
        "status": conn.status,
        "patient_id": conn.patient_id,
        "source": _source_name(rt, conn.source_id),
        "session": f"session-{conn.session_id}" if conn.session_id else None,
        "session_id": conn.session_id,
        "failure_code": conn.failure_code,
        "created": moment(conn.created_ms, now),
        "updated": moment(conn.updated_ms, now),
        "history": history,
        "token": token,
        "pulls": [
            {
                "status": p.status,
                "reason": p.reason,
                "total": p.total,
                "errors": len(loads(p.errors, [])),
                "error_message": p.error_message,
                "started": moment(p.started_ms, now),
                "finished": moment(p.finished_ms, now),
            }
            for p in pulls.recent_of(rt.store, ws_id, conn.attempt_id, PULLS_SHOWN)
        ],
        "events": [],
    }


def _attempt(attempt: deliveries.DeliveryAttempt, now: int) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "trigger": attempt.trigger,
        "at": moment(attempt.attempted_ms, now),
        "status_code": attempt.status_code,
        "latency_ms": attempt.duration_ms,
        "error": attempt.error,
        "chaos": loads(attempt.chaos, []),
        "succeeded": bool(attempt.succeeded),
    }


def _delivery(rt: Runtime, ws_id: str, delivery: deliveries.Delivery, now: int) -> dict[str, Any]:
    return {
        "anchor": f"delivery-{delivery.id}",
        "id": delivery.id,
        "type": delivery.type,
        "state": delivery.state,
        "event": f"event-{delivery.occurrence_id}",
        "attempts": [
            _attempt(a, now) for a in deliveries.attempts_of(rt.store, ws_id, delivery.id)
        ],
        "next_retry": moment(delivery.next_attempt_ms, now),
        "delivered": moment(delivery.delivered_ms, now),
        "chaos": loads(delivery.chaos, []),
    }


def _endpoint(rt: Runtime, ws_id: str, endpoint: endpoints.Endpoint, now: int) -> dict[str, Any]:
    return {
        "anchor": f"endpoint-{endpoint.id}",
        "id": endpoint.id,
        "url": endpoint.url,
        "status": endpoint.status,
        "description": endpoint.description,
        "events": loads(endpoint.events, []),
        "chaos": chaos.config_of(endpoint),
        "deliveries": [
            _delivery(rt, ws_id, d, now)
            for d in deliveries.recent_of(rt.store, ws_id, endpoint.id, DELIVERIES_SHOWN)
        ],
    }


def overview(rt: Runtime, ws_id: str) -> dict[str, Any]:
    """Everything the workspace page shows, newest first in each list."""
    store = rt.store
    now = rt.now(ws_id)
    conn_rows = connections.recent(store, ws_id, CONNECTIONS_SHOWN)
    conns = [_connection(rt, ws_id, c, now) for c in conn_rows]
    by_session: dict[str, list[dict[str, str]]] = {}
    for row in reversed(conn_rows):
        if row.session_id:
            by_session.setdefault(row.session_id, []).append(_conn_link(row))
    by_anchor = {c["anchor"]: c for c in conns}
    session_rows = sessions.recent(store, ws_id, SESSIONS_SHOWN)
    session_ids = {s.id for s in session_rows}
    events = []
    for occ in occurrences.recent(store, ws_id, EVENTS_SHOWN):
        about = _about(occ, session_ids, conn_rows)
        anchor = f"event-{occ.id}"
        for target in about:
            if target["anchor"] in by_anchor:
                by_anchor[target["anchor"]]["events"].append(link(anchor, occ.type))
        events.append(
            {
                "anchor": anchor,
                "id": occ.id,
                "type": occ.type,
                "created": moment(occ.created_ms, now),
                "about": about,
                "deliveries": [
                    {"anchor": f"delivery-{d.id}", "id": d.id, "state": d.state}
                    for d in deliveries.of_occurrence(store, ws_id, occ.id)
                ],
            }
        )
    endpoint_views = [_endpoint(rt, ws_id, e, now) for e in endpoints.all_rows(store, ws_id)]
    shown = [
        *(f"session-{s.id}" for s in session_rows),
        *by_anchor,
        *(e["anchor"] for e in events),
        *(d["anchor"] for e in endpoint_views for d in e["deliveries"]),
    ]
    return {
        "now": moment(now, now),
        "anchors": set(shown),  # a link to an object not shown is plain text
        "mode": rt.clocks.mode(ws_id),
        "next_due": moment(rt.scheduler.next_due(ws_id), now),
        "sessions": [_session(s, now, by_session.get(s.id, [])) for s in session_rows],
        "connections": conns,
        "events": events,
        "endpoints": endpoint_views,
    }

"""Connection attempts and authorized links (the `conn_` objects): their lookups and views.

Each authorization attempt is one row. `id` (`conn_…`) is set once the
attempt becomes active; failed attempts keep `id` null. In-flight attempts
(`pending`) are not shown by the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from statemachine import State, StateMachine

from simulator.core import naming
from simulator.core.errors import ApiError, not_found
from simulator.core.lifecycle import states
from simulator.core.store import Store, loads
from simulator.core.timeutil import iso
from simulator.domain.rows import Row

SCHEMA = """
CREATE TABLE IF NOT EXISTS connections (
    workspace_id TEXT NOT NULL,
    attempt_id TEXT NOT NULL,
    id TEXT,
    seq INTEGER NOT NULL,
    patient_id TEXT NOT NULL,
    session_id TEXT,
    source_id TEXT NOT NULL,
    status TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '[]',
    failure_code TEXT,
    failure_ms INTEGER,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, attempt_id)
);
CREATE INDEX IF NOT EXISTS connections_patient ON connections (workspace_id, patient_id, seq);
CREATE INDEX IF NOT EXISTS connections_session ON connections (workspace_id, session_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS connections_conn_id ON connections (workspace_id, id)
    WHERE id IS NOT NULL;
CREATE TABLE IF NOT EXISTS connection_status_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    attempt_id TEXT NOT NULL,
    status TEXT NOT NULL,
    failure_code TEXT,
    changed_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS connection_status_changes_attempt
    ON connection_status_changes (workspace_id, attempt_id, seq);
"""
# `connection_status_changes`: every status an attempt took, in order (its status history);
# attempts made before the table existed have none.


class ConnectionLifecycle(StateMachine):
    """A connection attempt inside a session.

    `pending` is the in-flight attempt (not shown by the API); it settles as
    `active` or `failed`. An active connection can lose refresh access, be
    disconnected by the org, or expire when a grant without a refresh token
    runs out.
    """

    pending = State(initial=True)
    active = State()
    failed = State(final=True)
    expired = State()
    refresh_failed = State()
    disconnected = State(final=True)

    activate = pending.to(active)
    fail = pending.to(failed)
    abandon = pending.to(expired)
    refresh_fail = active.to(refresh_failed)
    lapse = active.to(expired)
    disconnect = (
        active.to(disconnected) | refresh_failed.to(disconnected) | expired.to(disconnected)
    )


IN_FLIGHT = ConnectionLifecycle.pending.value
# What the API shows: every state but the in-flight one, in declaration order.
STATUSES = tuple(s for s in states(ConnectionLifecycle) if s != IN_FLIGHT)
VISIBLE = f"status != '{IN_FLIGHT}'"


@dataclass(frozen=True, slots=True)
class Connection(Row):
    """A row of `connections`: an attempt, and once active the `conn_` link (`scopes`: JSON)."""

    workspace_id: str
    attempt_id: str
    id: str | None
    seq: int
    patient_id: str
    session_id: str | None
    source_id: str
    status: str
    scopes: str
    failure_code: str | None
    failure_ms: int | None
    created_ms: int
    updated_ms: int


@dataclass(frozen=True, slots=True)
class StatusChange(Row):
    """One status an attempt took, and when."""

    seq: int
    workspace_id: str
    attempt_id: str
    status: str
    failure_code: str | None
    changed_ms: int


def session_item(conn: Connection) -> dict[str, Any]:
    """The connection entry inside a PatientSession (and the refresh-failed payload)."""
    return {
        "id": conn.id,
        "connection_id": conn.source_id,
        "status": conn.status,
        "failure_code": conn.failure_code,
        "failure_at": iso(conn.failure_ms),
        "created_at": iso(conn.created_ms),
    }


def patient_item(conn: Connection) -> dict[str, Any]:
    """The connection entry inside PatientDetail."""
    return {
        "id": conn.id,
        "resource_type": "connection",
        "patient_session_id": conn.session_id,
        "connection_id": conn.source_id,
        "status": conn.status,
        "scopes": loads(conn.scopes, []),
        "failure_code": conn.failure_code,
        "failure_at": iso(conn.failure_ms),
        "created_at": iso(conn.created_ms),
        "updated_at": iso(conn.updated_ms),
    }


def by_attempt(store: Store, ws_id: str, attempt_id: str) -> Connection | None:
    """The row of an attempt, whatever its status."""
    return Connection.maybe(
        store.one(
            "SELECT * FROM connections WHERE workspace_id = ? AND attempt_id = ?",
            (ws_id, attempt_id),
        )
    )


def get(
    store: Store,
    ws_id: str,
    conn_id: str,
    *,
    patient_id: str | None = None,
    param: str | None = None,
) -> Connection:
    """The connection `conn_id` (of `patient_id` when given); 404 otherwise."""
    conn = Connection.maybe(
        store.one("SELECT * FROM connections WHERE workspace_id = ? AND id = ?", (ws_id, conn_id))
    )
    if conn is None or (patient_id is not None and conn.patient_id != patient_id):
        raise not_found("connection", conn_id, param=param)
    return conn


def get_active(store: Store, ws_id: str, conn_id: str) -> Connection:
    """The connection `conn_id` when it is active; 404 or 409 otherwise."""
    conn = get(store, ws_id, conn_id)
    if conn.status != "active":
        raise ApiError("resource_conflict", f"Connection {conn_id} is {conn.status}, not active")
    return conn


def _visible(store: Store, ws_id: str, column: str, value: str, order: str) -> list[Connection]:
    rows = store.all(
        f"SELECT * FROM connections WHERE workspace_id = ? AND {column} = ? AND {VISIBLE}"
        f" ORDER BY seq {order}",
        (ws_id, value),
    )
    return [Connection.from_row(r) for r in rows]


def for_session(store: Store, ws_id: str, session_id: str) -> list[dict[str, Any]]:
    """Attempts made in a session, in the order they were made."""
    return [session_item(c) for c in _visible(store, ws_id, "session_id", session_id, "ASC")]


def for_patient(store: Store, ws_id: str, patient_id: str) -> list[dict[str, Any]]:
    """All connections of a patient, failed attempts included, most recent first."""
    field = naming.of_workspace(store, ws_id).back_reference  # `session_id` in A
    rows = _visible(store, ws_id, "patient_id", patient_id, "DESC")
    return [
        {field if key == "patient_session_id" else key: value for key, value in item.items()}
        for item in map(patient_item, rows)
    ]


def last_seq(store: Store, ws_id: str, session_id: str) -> int:
    """The sequence number of the session's newest attempt (0 before the first)."""
    value = store.scalar(
        "SELECT MAX(seq) FROM connections WHERE workspace_id = ? AND session_id = ?",
        (ws_id, session_id),
    )
    return int(value or 0)


def settled_since(
    store: Store, ws_id: str, session_id: str, after_seq: int
) -> dict[str, Any] | None:
    """The session's newest attempt made after `after_seq`, once it is no longer pending."""
    conn = Connection.maybe(
        store.one(
            "SELECT * FROM connections WHERE workspace_id = ? AND session_id = ? AND seq > ?"
            " ORDER BY seq DESC LIMIT 1",
            (ws_id, session_id, after_seq),
        )
    )
    if conn is None or conn.status == "pending":
        return None
    return session_item(conn)


def pending_in_session(store: Store, ws_id: str, session_id: str) -> list[str]:
    """The attempt ids of a session still waiting at the portal."""
    rows = store.all(
        "SELECT attempt_id FROM connections WHERE workspace_id = ? AND session_id = ?"
        " AND status = 'pending'",
        (ws_id, session_id),
    )
    return [row["attempt_id"] for row in rows]


def superseded(store: Store, ws_id: str, conn: Connection) -> list[Connection]:
    """Older active connections of the same patient to the same source."""
    rows = store.all(
        "SELECT * FROM connections WHERE workspace_id = ? AND patient_id = ? AND source_id = ?"
        " AND status = 'active' AND attempt_id != ?",
        (ws_id, conn.patient_id, conn.source_id, conn.attempt_id),
    )
    return [Connection.from_row(r) for r in rows]


# -- status history and the workspace's connections -------------------------------------


def record_status(store: Store, conn: Connection) -> None:
    """Add the attempt's current status to its history (called on every status change;
    in a transaction the write may travel with the next statement or COMMIT)."""
    store.execute_later(
        "INSERT INTO connection_status_changes (workspace_id, attempt_id, status, failure_code,"
        " changed_ms) VALUES (?,?,?,?,?)",
        (conn.workspace_id, conn.attempt_id, conn.status, conn.failure_code, conn.updated_ms),
    )


def history(store: Store, ws_id: str, attempt_id: str) -> list[StatusChange]:
    """The statuses an attempt took, oldest first."""
    rows = store.all(
        "SELECT * FROM connection_status_changes WHERE workspace_id = ? AND attempt_id = ?"
        " ORDER BY seq",
        (ws_id, attempt_id),
    )
    return [StatusChange.from_row(r) for r in rows]


def recent(store: Store, ws_id: str, limit: int) -> list[Connection]:
    """The workspace's newest attempts of every status (in-flight ones included), newest first."""
    rows = store.all(
        "SELECT * FROM connections WHERE workspace_id = ? ORDER BY seq DESC LIMIT ?",
        (ws_id, limit),
    )
    return [Connection.from_row(r) for r in rows]

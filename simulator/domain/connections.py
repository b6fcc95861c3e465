"""Connection attempts and authorized links (the `conn_` objects) and how they render.

Each authorization attempt is one row. `id` (`conn_…`) is set once the
attempt becomes active; failed attempts keep `id` null. In-flight attempts
(`pending`) are not shown by the API.
"""

from __future__ import annotations

from typing import Any

from statemachine import State, StateMachine

from simulator.core.lifecycle import states
from simulator.core.store import Store, loads, register_schema
from simulator.core.timeutil import iso

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
"""
register_schema("connections", SCHEMA)


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


def session_item(row: Any) -> dict[str, Any]:
    """The connection entry inside a PatientSession (and the refresh-failed payload)."""
    return {
        "id": row["id"],
        "connection_id": row["source_id"],
        "status": row["status"],
        "failure_code": row["failure_code"],
        "failure_at": iso(row["failure_ms"]),
        "created_at": iso(row["created_ms"]),
    }


def patient_item(row: Any) -> dict[str, Any]:
    """The connection entry inside PatientDetail."""
    return {
        "id": row["id"],
        "resource_type": "connection",
        "patient_session_id": row["session_id"],
        "connection_id": row["source_id"],
        "status": row["status"],
        "scopes": loads(row["scopes"], []),
        "failure_code": row["failure_code"],
        "failure_at": iso(row["failure_ms"]),
        "created_at": iso(row["created_ms"]),
        "updated_at": iso(row["updated_ms"]),
    }


def for_session(store: Store, ws_id: str, session_id: str) -> list[dict[str, Any]]:
    """Attempts made in a session, in the order they were made."""
    rows = store.all(
        f"SELECT * FROM connections WHERE workspace_id = ? AND session_id = ? AND {VISIBLE}"
        " ORDER BY seq",
        (ws_id, session_id),
    )
    return [session_item(r) for r in rows]


def for_patient(store: Store, ws_id: str, patient_id: str) -> list[dict[str, Any]]:
    """All connections of a patient, failed attempts included, most recent first."""
    rows = store.all(
        f"SELECT * FROM connections WHERE workspace_id = ? AND patient_id = ? AND {VISIBLE}"
        " ORDER BY seq DESC",
        (ws_id, patient_id),
    )
    return [patient_item(r) for r in rows]

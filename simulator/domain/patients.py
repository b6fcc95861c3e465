"""Patients: the developer's own ids, created, replaced, listed and deleted."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.core import pagination, plans
from simulator.core.errors import ApiError, invalid, not_found
from simulator.core.store import Store, dumps, loads
from simulator.core.timeutil import iso
from simulator.domain import connections
from simulator.domain.rows import Row

SCHEMA = """
CREATE TABLE IF NOT EXISTS patients (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    email TEXT,
    name TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX IF NOT EXISTS patients_seq ON patients (workspace_id, seq);
"""


@dataclass(frozen=True, slots=True)
class Patient(Row):
    """A row of `patients` (`metadata` is its JSON text)."""

    workspace_id: str
    id: str
    seq: int
    email: str | None
    name: str | None
    metadata: str
    created_ms: int


# Both published lists, plus the session prefixes of every generation.
RESERVED_PREFIXES = ("pat_", "pf_", "ps_", "sess_", "conn_", "fhirsrc_", "wh_", "whsec_", "evt_")


def check_patient_id(value: str, param: str = "patient_id") -> str:
    for prefix in RESERVED_PREFIXES:
        if value.startswith(prefix):
            raise invalid(f"'{param}' must not start with the reserved prefix '{prefix}'", param)
    if value != value.strip() or any(ord(c) < 32 for c in value):
        raise invalid(
            f"'{param}' must not have leading or trailing spaces or control characters", param
        )
    if "/" in value:  # the id is a URL path segment; servers decode %2F before routing
        raise invalid(f"'{param}' must not contain '/'", param)
    return value


def render(patient: Patient) -> dict[str, Any]:
    return {
        "id": patient.id,
        "resource_type": "patient",
        "email": patient.email,
        "name": patient.name,
        "metadata": loads(patient.metadata, {}),
        "created_at": iso(patient.created_ms),
    }


def render_detail(store: Store, ws_id: str, patient: Patient) -> dict[str, Any]:
    return {**render(patient), "connections": connections.for_patient(store, ws_id, patient.id)}


def get_row(store: Store, ws_id: str, patient_id: str) -> Patient:
    row = store.one("SELECT * FROM patients WHERE workspace_id = ? AND id = ?", (ws_id, patient_id))
    if row is None:
        raise not_found("patient", patient_id)
    return Patient.from_row(row)


def display_name(store: Store, ws_id: str, patient_id: str) -> str:
    """What the hosted pages call the patient: their name, else their id."""
    name = store.scalar(
        "SELECT name FROM patients WHERE workspace_id = ? AND id = ?", (ws_id, patient_id)
    )
    return name or patient_id


def list_page(
    store: Store,
    ws_id: str,
    args: Mapping[str, str],
    *,
    patient_id: str | None = None,
    email: str | None = None,
) -> dict[str, Any]:
    """A page of the workspace's patients, newest first, optionally by exact id or email."""
    return pagination.page(
        store,
        "patients",
        kind="patients",
        match={"workspace_id": ws_id, "id": patient_id, "email": email},
        args=args,
        render=lambda row: render(Patient.from_row(row)),
    )


def exists(store: Store, ws_id: str, patient_id: str) -> bool:
    return (
        store.one("SELECT 1 FROM patients WHERE workspace_id = ? AND id = ?", (ws_id, patient_id))
        is not None
    )


def _check_quota(store: Store, ws_id: str) -> None:
    """402 when the workspace's plan holds no place for one more patient."""
    limit = plans.get(store, ws_id).active_patient_limit
    if limit is None:
        return
    held = store.scalar("SELECT COUNT(*) FROM patients WHERE workspace_id = ?", (ws_id,))
    if held >= limit:
        raise ApiError(
            "quota_exceeded",
            f"The workspace's plan allows {limit} active patients and holds {held};"
            " delete one or raise the plan's active_patient_limit",
            type_="billing_error",
        )


def create(
    store: Store,
    ws_id: str,
    *,
    seq: int,
    now_ms: int,
    patient_id: str,
    email: str | None = None,
    name: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Patient:
    check_patient_id(patient_id)
    with store.tx():
        if exists(store, ws_id, patient_id):
            raise ApiError(
                "external_id_already_exists",
                f"A patient with patient_id '{patient_id}' already exists",
                param="patient_id",
            )
        _check_quota(store, ws_id)
        store.execute_later(  # travels with the read after it
            "INSERT INTO patients (workspace_id, id, seq, email, name, metadata, created_ms)"
            " VALUES (?,?,?,?,?,?,?)",
            (ws_id, patient_id, seq, email, name, dumps(metadata or {}), now_ms),
        )
        return get_row(store, ws_id, patient_id)


def replace(
    store: Store,
    ws_id: str,
    patient_id: str,
    *,
    email: str | None,
    name: str | None,
    metadata: dict[str, Any] | None,
) -> Patient:
    with store.tx():
        get_row(store, ws_id, patient_id)
        store.execute(
            "UPDATE patients SET email = ?, name = ?, metadata = ? WHERE workspace_id = ? AND id = ?",
            (email, name, dumps(metadata or {}), ws_id, patient_id),
        )
        return get_row(store, ws_id, patient_id)


def upsert(
    store: Store,
    ws_id: str,
    *,
    seq_factory: Callable[[], int],
    now_ms: int,
    patient_id: str,
    email: str | None,
    name: str | None,
) -> Patient:
    """Create the patient if missing; otherwise update the email and name given."""
    check_patient_id(patient_id)
    with store.tx():
        if not exists(store, ws_id, patient_id):
            return create(
                store,
                ws_id,
                seq=seq_factory(),
                now_ms=now_ms,
                patient_id=patient_id,
                email=email,
                name=name,
            )
        if email is not None:
            store.execute(
                "UPDATE patients SET email = ? WHERE workspace_id = ? AND id = ?",
                (email, ws_id, patient_id),
            )
        if name is not None:
            store.execute(
                "UPDATE patients SET name = ? WHERE workspace_id = ? AND id = ?",
                (name, ws_id, patient_id),
            )
        return get_row(store, ws_id, patient_id)


def delete(store: Store, ws_id: str, patient_id: str) -> None:
    """Remove the patient and everything that belongs to them in the workspace."""
    with store.tx():
        get_row(store, ws_id, patient_id)
        for table in store.tables_with_column("patient_id"):
            store.execute(
                f"DELETE FROM {table} WHERE workspace_id = ? AND patient_id = ?",
                (ws_id, patient_id),
            )
        store.execute("DELETE FROM patients WHERE workspace_id = ? AND id = ?", (ws_id, patient_id))

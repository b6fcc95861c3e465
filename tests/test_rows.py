"""Each owner module's row dataclass holds exactly its table's columns, and stays frozen."""

from __future__ import annotations

import dataclasses

import pytest

from simulator.domain import patients
from simulator.domain.api_faults import ApiFault
from simulator.domain.attempts import Attempt, ConnectionTokens
from simulator.domain.connections import Connection, StatusChange
from simulator.domain.launch_contexts import LaunchContext
from simulator.domain.operations import Operation
from simulator.domain.patients import Patient
from simulator.domain.pulls import Pull
from simulator.domain.registrations import Registration
from simulator.domain.rows import Row
from simulator.domain.sessions import Session
from simulator.domain.webhooks.deliveries import Delivery, DeliveryAttempt
from simulator.domain.webhooks.endpoints import Endpoint
from simulator.domain.webhooks.inboxes import Inbox, InboxRequest
from simulator.domain.webhooks.occurrences import Occurrence
from simulator.testing import Api, Sim

TABLES: tuple[tuple[type[Row], str], ...] = (
    (Patient, "patients"),
    (Session, "patient_sessions"),
    (Connection, "connections"),
    (StatusChange, "connection_status_changes"),
    (Attempt, "oauth_attempts"),
    (ConnectionTokens, "connection_tokens"),
    (Registration, "client_registrations"),
    (Pull, "pulls"),
    (ApiFault, "api_faults"),
    (LaunchContext, "launch_contexts"),
    (Endpoint, "webhook_endpoints"),
    (Occurrence, "webhook_occurrences"),
    (Delivery, "webhook_deliveries"),
    (DeliveryAttempt, "webhook_attempts"),
    (Inbox, "webhook_inboxes"),
    (Operation, "clock_operations"),
    (InboxRequest, "webhook_inbox_requests"),
)


@pytest.mark.parametrize(("cls", "table"), TABLES, ids=[t for _, t in TABLES])
def test_a_row_class_has_its_tables_columns(sim: Sim, cls: type[Row], table: str) -> None:
    cursor = sim.runtime.store.execute(f"SELECT * FROM {table} LIMIT 0")
    columns = [d[0] for d in cursor.description]
    assert [f.name for f in dataclasses.fields(cls)] == columns


def test_a_row_is_built_from_the_store_and_cannot_change(sim: Sim, api: Api) -> None:
    api.post("/patients", {"patient_id": "p1", "name": "Ada"})
    ws_id = api.get("/_sim/workspace").json["id"]
    patient = patients.get_row(sim.runtime.store, ws_id, "p1")
    assert isinstance(patient, Patient)
    assert (patient.id, patient.name, patient.metadata) == ("p1", "Ada", "{}")
    with pytest.raises(dataclasses.FrozenInstanceError):
        patient.name = "Grace"  # type: ignore[misc]
    assert Patient.maybe(None) is None

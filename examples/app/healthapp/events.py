"""What the app does with each verified webhook event (once per event id)."""

from __future__ import annotations

from typing import Any

from healthapp import store


def handle(event: dict[str, Any]) -> bool:
    """Apply and store `event`; False when it was already handled (a redelivery).

    Every step is an upsert, so an event whose storing failed can be applied again
    when Connect retries it."""
    if store.has_event(event["id"]):
        return False
    kind = event.get("type")
    obj = (event.get("data") or {}).get("object") or {}
    patient_id: str | None = None
    if kind == "patient_session.completed":
        patient_id = obj.get("patient_id")
        if store.get_session(obj.get("id", "")) is not None:
            store.set_session(obj["id"], obj.get("status", "complete"))
        for item in obj.get("connections") or []:
            store.upsert_connection(item, patient_id or "")
    elif kind == "connection.token_refresh_failed":
        patient_id = store.connection_patient(obj.get("id") or "")
        if patient_id is not None:
            store.upsert_connection(obj, patient_id)
    elif kind in ("records.sync.completed", "records.sync.failed"):
        patient_id = obj.get("patient_id")
    # any other type is acknowledged and kept: new event types must not fail deliveries
    return store.add_event(event, patient_id)

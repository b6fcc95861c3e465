"""The `data.object` of each event type, and building one for an existing object on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.core import naming
from simulator.core.errors import invalid, not_found
from simulator.domain import connections, outside_sources, patients, sessions

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

RECORDS_SYNC = "records_sync"
SESSION_PREFIXES = tuple(generation.prefix for generation in naming.GENERATIONS.values())
CONNECTION_PREFIX = "conn_"


def _check_kind(event_type: str, object_id: str | None, wants_session: bool) -> None:
    """An id of the other kind of object is a 400 that says which kind the type is about."""
    if not object_id:
        return
    if wants_session and object_id.startswith(CONNECTION_PREFIX):
        raise invalid(
            f"'{object_id}' is a connection; {event_type} is about a patient session"
            f" ({'/'.join(SESSION_PREFIXES)} id)",
            "object_id",
        )
    if not wants_session and object_id.startswith(SESSION_PREFIXES):
        raise invalid(
            f"'{object_id}' is a patient session; {event_type} is about a connection"
            f" ({CONNECTION_PREFIX} id)",
            "object_id",
        )


def records_sync_completed(
    patient_id: str,
    connection_id: str,
    *,
    total: int,
    errors: list[dict[str, Any]] | None = None,
    duration_ms: int = 0,
) -> dict[str, Any]:
    """`records.sync.completed`: a pull for one (patient, source) pair settled."""
    return {
        "resource_type": RECORDS_SYNC,
        "patient_id": patient_id,
        "connection_id": connection_id,
        "total": total,
        "errors": list(errors or []),
        "duration_ms": duration_ms,
    }


def records_sync_failed(patient_id: str, connection_id: str, error_message: str) -> dict[str, Any]:
    """`records.sync.failed`: a pull errored and will not retry without intervention."""
    return {
        "resource_type": RECORDS_SYNC,
        "patient_id": patient_id,
        "connection_id": connection_id,
        "error_message": error_message,
    }


def _session_object(rt: Runtime, ws_id: str, object_id: str | None) -> dict[str, Any]:
    if not object_id:
        raise invalid("'object_id' (a patient session id) is required for this type", "object_id")
    return sessions.to_api(rt, ws_id, sessions.get_row(rt.store, ws_id, object_id))


def _sync_pair(rt: Runtime, ws_id: str, body: dict[str, Any]) -> tuple[str, str]:
    """The (patient_id, source id) a records.sync event is about.

    As in the events the background pull emits, `connection_id` is the source
    (`fhirsrc_…`), like `connection_id` on a session.
    """
    object_id = body.get("object_id")
    if object_id:
        conn = connections.get(rt.store, ws_id, object_id, param="object_id")
        return conn.patient_id, conn.source_id
    patient_id, source = body.get("patient_id"), body.get("connection_id")
    if not patient_id or not source:
        raise invalid(
            "'object_id' (a conn_ id), or 'patient_id' with 'connection_id', is required",
            "object_id",
        )
    patients.get_row(rt.store, ws_id, patient_id)
    entry = outside_sources.source(rt, ws_id, source)
    if entry is None:
        raise not_found("connection", source, param="connection_id")
    return patient_id, entry.id


def build(rt: Runtime, ws_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A real `data.object` for the type (generation-C name) and object of a fire request."""
    event_type = body["type"]
    wants_session = event_type == naming.SESSION_COMPLETED
    _check_kind(event_type, body.get("object_id"), wants_session)
    if wants_session:
        data = _session_object(rt, ws_id, body.get("object_id"))
    elif event_type == "connection.token_refresh_failed":
        conn_id = body.get("object_id") or body.get("connection_id")
        if not conn_id:
            raise invalid("'object_id' (a conn_ id) is required for this type", "object_id")
        data = connections.session_item(
            connections.get(rt.store, ws_id, conn_id, param="object_id")
        )
    elif event_type == "records.sync.completed":
        data = records_sync_completed(*_sync_pair(rt, ws_id, body), total=0)
    else:
        data = records_sync_failed(
            *_sync_pair(rt, ws_id, body), "Sync failure fired from the control plane"
        )
    data.update(body.get("data") or {})
    return data

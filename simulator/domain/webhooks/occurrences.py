"""Event occurrences: what happened in a workspace, stored whether or not any endpoint listens.

An occurrence (`occ_…`) is recorded once per emitted event. Each active
endpoint that subscribes to its type gets its own delivery record, whose
`evt_…` id is what that endpoint's receiver sees (see `delivery`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.core import naming, pagination
from simulator.core.errors import invalid, not_found
from simulator.core.store import Store, dumps, loads
from simulator.core.timeutil import iso
from simulator.domain.rows import Row

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_occurrences (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX IF NOT EXISTS webhook_occurrences_seq ON webhook_occurrences (workspace_id, seq);
"""

OCCURRENCE_PREFIX = "occ_"

# The four documented types (generation-C names). A workspace stores and shows them
# under its own generation's names (`naming.Generation.event_types`).
EVENT_TYPES = naming.EVENT_TYPES


@dataclass(frozen=True, slots=True)
class Occurrence(Row):
    """A row of `webhook_occurrences` (`data` is the JSON text of the event's object)."""

    workspace_id: str
    id: str
    seq: int
    type: str
    data: str
    created_ms: int


def check_type(gen: naming.Generation, name: str, param: str = "type") -> str:
    """The generation-C name of one of the workspace's event type names; 400 otherwise."""
    canonical = gen.canonical_event(name)
    if canonical is None:
        raise invalid(
            f"'{param}' is not an event type: '{name}'; use one of " + ", ".join(gen.event_types),
            param,
        )
    return canonical


def record(rt: Runtime, ws_id: str, event_type: str, data_object: dict[str, Any]) -> Occurrence:
    """Store an occurrence of `event_type` (a generation-C name) and return it.

    It is stored, and delivered, under the workspace's generation's name.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type '{event_type}'")
    event_type = naming.of_workspace(rt.store, ws_id).event_name(event_type)
    store = rt.store
    with store.tx():
        occ_id, seq = rt.new_id(ws_id, OCCURRENCE_PREFIX)
        row = store.one(
            "INSERT INTO webhook_occurrences (workspace_id, id, seq, type, data, created_ms)"
            " VALUES (?,?,?,?,?,?) RETURNING *",
            (ws_id, occ_id, seq, event_type, dumps(data_object), rt.now(ws_id)),
        )
        return Occurrence.from_row(row)


def find(store: Store, ws_id: str, occ_id: str) -> Occurrence | None:
    return Occurrence.maybe(
        store.one(
            "SELECT * FROM webhook_occurrences WHERE workspace_id = ? AND id = ?", (ws_id, occ_id)
        )
    )


def get_row(store: Store, ws_id: str, occ_id: str) -> Occurrence:
    occurrence = find(store, ws_id, occ_id)
    if occurrence is None:
        raise not_found("event", occ_id)
    return occurrence


def data_object(occurrence: Occurrence) -> dict[str, Any]:
    return loads(occurrence.data, {})


def recent(store: Store, ws_id: str, limit: int) -> list[Occurrence]:
    """The workspace's newest occurrences, newest first."""
    rows = store.all(
        "SELECT * FROM webhook_occurrences WHERE workspace_id = ? ORDER BY seq DESC LIMIT ?",
        (ws_id, limit),
    )
    return [Occurrence.from_row(r) for r in rows]


def render(store: Store, ws_id: str, occurrence: Occurrence) -> dict[str, Any]:
    """The control-plane view of an occurrence with its per-endpoint delivery ids."""
    deliveries = store.all(
        "SELECT id, endpoint_id FROM webhook_deliveries WHERE workspace_id = ?"
        " AND occurrence_id = ? ORDER BY seq",
        (ws_id, occurrence.id),
    )
    return {
        "id": occurrence.id,
        "resource_type": "event_occurrence",
        "type": occurrence.type,
        "data": {"object": data_object(occurrence)},
        "created_at": iso(occurrence.created_ms),
        "deliveries": [
            {"id": d["id"], "webhook_endpoint_id": d["endpoint_id"]} for d in deliveries
        ],
    }


def list_page(
    store: Store, ws_id: str, args: Mapping[str, str], *, event_type: str | None = None
) -> dict[str, Any]:
    """A page of the workspace's occurrences, newest first, optionally of one type."""
    if event_type is not None:
        check_type(naming.of_workspace(store, ws_id), event_type)
    return pagination.page(
        store,
        "webhook_occurrences",
        kind=f"events?type={event_type or ''}",
        match={"workspace_id": ws_id, "type": event_type},
        args=args,
        render=lambda row: render(store, ws_id, Occurrence.from_row(row)),
    )

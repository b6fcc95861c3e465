"""Emitting events: the one entry point other modules call when something happened.

`emit` runs inside the caller's transaction: it only writes rows and schedules
jobs (the first delivery attempt is a job due now), never outbound HTTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.domain.webhooks import deliveries
from simulator.domain.webhooks import occurrences as occurrences

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

EVENT_TYPES = occurrences.EVENT_TYPES


def emit(rt: Runtime, ws_id: str, event_type: str, data_object: dict[str, Any]) -> str:
    """Record an event of `event_type` about `data_object`, schedule its deliveries.

    `event_type` is one of `patient_session.completed`,
    `connection.token_refresh_failed`, `records.sync.completed`,
    `records.sync.failed` (generation-C names: the event is stored and sent under
    the workspace's generation's name, e.g. `patient_flow.completed` in B).
    Returns the occurrence id (`occ_…`); each subscribed endpoint gets its own
    `evt_…` delivery.
    """
    with rt.store.tx():
        occurrence = occurrences.record(rt, ws_id, event_type, data_object)
        deliveries.fan_out(rt, ws_id, occurrence)
        return occurrence.id

"""The three naming generations of the Connect API, and which one a workspace speaks.

The browser-flow object was renamed twice. Generation C ("PatientSession") is the
provider's current OpenAPI document and the default; B ("PatientFlow") and A
("Session") are what older SDKs and pages use. A workspace speaks exactly one
generation (its `naming` setting, fixed when it is created), never a mixture:

| Aspect | A | B | C |
|---|---|---|---|
| id prefix | `sess_` | `pf_` | `ps_` |
| `resource_type` | `session` | `patient_flow` | `patient_session` |
| paths | `/sessions` | `/patient-flows` | `/patient-sessions` |
| back-reference on a connection | `session_id` | `patient_session_id` | `patient_session_id` |
| return-URL query parameter | `session_id` | `patient_flow_id` | `patient_session_id` |
| completion event | `patient_session.completed` | `patient_flow.completed` | same as A |

Inside, the domain names events by their generation-C name; what a workspace
stores and shows (endpoint `events`, event types, envelopes) is its own
generation's name, translated here (`event_name`, `canonical_event`). A and B
answers carry a `Deprecation` header (RFC 9745).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simulator.core import workspaces

if TYPE_CHECKING:
    from simulator.core.store import Store

SESSION_COMPLETED = "patient_session.completed"
# The four documented event types, by their generation-C names.
EVENT_TYPES = (
    SESSION_COMPLETED,
    "connection.token_refresh_failed",
    "records.sync.completed",
    "records.sync.failed",
)

# When generation C (the provider's OpenAPI document, `info.version` 2026-04-25)
# superseded A and B: 2026-04-25T00:00:00Z, as RFC 9745's `@<unix seconds>`.
DEPRECATED_SINCE = 1777075200


@dataclass(frozen=True)
class Generation:
    """One naming generation of the session object and the names that go with it."""

    name: str
    prefix: str
    resource_type: str
    path: str
    list_path: str
    return_param: str
    back_reference: str
    renamed_events: Mapping[str, str] = field(default_factory=dict)

    @property
    def deprecated(self) -> bool:
        return self is not CANONICAL

    @property
    def event_types(self) -> tuple[str, ...]:
        """The four event types under this generation's names."""
        return tuple(self.event_name(name) for name in EVENT_TYPES)

    @property
    def completed_event(self) -> str:
        return self.event_name(SESSION_COMPLETED)

    def event_name(self, canonical: str) -> str:
        """This generation's name of a generation-C event type."""
        return self.renamed_events.get(canonical, canonical)

    def canonical_event(self, name: str) -> str | None:
        """The generation-C name of one of this generation's event types (None if not one)."""
        for canonical in EVENT_TYPES:
            if self.event_name(canonical) == name:
                return canonical
        return None


CANONICAL = Generation(
    "C",
    "ps_",
    "patient_session",
    "patient-sessions",
    "patient-sessions",
    "patient_session_id",
    "patient_session_id",
)
GENERATIONS: dict[str, Generation] = {
    "C": CANONICAL,
    "B": Generation(
        "B",
        "pf_",
        "patient_flow",
        "patient-flows",
        "patient-flows",
        "patient_flow_id",
        "patient_session_id",
        {SESSION_COMPLETED: "patient_flow.completed"},
    ),
    "A": Generation(
        "A",
        "sess_",
        "session",
        "sessions",
        "sessions",
        "session_id",
        "session_id",
    ),
}
DEFAULT = CANONICAL.name
NAMES = tuple(GENERATIONS)
# Every event type name of any generation (what a document lists for all workspaces).
ALL_EVENT_NAMES = tuple(
    dict.fromkeys(name for gen in GENERATIONS.values() for name in gen.event_types)
)


def generation(name: str) -> Generation:
    return GENERATIONS[name]


def of_workspace(store: Store, ws_id: str) -> Generation:
    """The generation the workspace speaks."""
    return GENERATIONS[workspaces.get(store, ws_id).naming]


def deprecation_headers(gen: Generation) -> dict[str, str]:
    """`Deprecation: @<unix seconds>` (RFC 9745) on every answer of an A or B workspace."""
    return {"Deprecation": f"@{DEPRECATED_SINCE}"} if gen.deprecated else {}

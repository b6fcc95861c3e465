"""Launch contexts (fact sheet §1.11, §3.5): the context of a clinician's EHR launch.

`GET /launch-contexts/{id}` reads one (`mb_launch`, a UUID); the control plane makes
them, `pending` (the token exchange has not happened yet) or `ready`, and moves a
pending one to ready with its patient, encounter and user. Out of Connect's patient
flow; kept so an app's launch handling can be tested.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from statemachine import State, StateMachine

from simulator.core import ids, workspaces
from simulator.core.errors import ApiError, not_found
from simulator.core.lifecycle import TransitionNotAllowed, states, transition
from simulator.core.store import Store
from simulator.core.timeutil import iso
from simulator.domain import outside_sources
from simulator.domain.rows import Row

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS launch_contexts (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL,
    patient TEXT,
    encounter TEXT,
    fhir_user TEXT,
    scope TEXT NOT NULL,
    source_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
"""

DEFAULT_SCOPE = "launch openid fhirUser user/*.read"


class LaunchContextLifecycle(StateMachine):
    """pending (before the token exchange) -> ready."""

    pending = State(initial=True)
    ready = State(final=True)

    exchange = pending.to(ready)


STATUSES = states(LaunchContextLifecycle)

_TEXT = {"type": "string", "minLength": 1, "maxLength": 200}
CREATE_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["connection_id"],
    "properties": {
        "connection_id": {
            "type": "string",
            "minLength": 1,
            "description": "The source: a `fhirsrc_` id or its `fhir_base_url`",
        },
        "status": {
            "description": "`ready` (default) or `pending` until its token exchange",
            "enum": list(STATUSES),
        },
        "patient": {**_TEXT, "description": "The FHIR Patient id the launch carries"},
        "encounter": {**_TEXT, "description": "The FHIR Encounter id the launch carries"},
        "fhir_user": {
            **_TEXT,
            "description": "The launching user (a FHIR reference such as `Practitioner/123`)",
        },
        "scope": {
            "description": "The scopes granted to the launch",
            "type": "string",
            "minLength": 1,
            "maxLength": 1000,
        },
    },
    # a ready context (the default) names its patient; a pending one gets it at the exchange
    "if": {"required": ["status"], "properties": {"status": {"const": "pending"}}},
    "else": {"required": ["patient"]},
}
READY_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["patient"],
    "properties": {
        "patient": {**_TEXT, "description": "The FHIR Patient id the launch carries"},
        "encounter": {**_TEXT, "description": "The FHIR Encounter id the launch carries"},
        "fhir_user": {**_TEXT, "description": "The launching user (a FHIR reference)"},
    },
}
_NULLABLE_TEXT = {"type": ["string", "null"]}
LAUNCH_CONTEXT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "resource_type",
        "status",
        "patient",
        "encounter",
        "fhir_user",
        "scope",
        "fhir_source",
        "fhir_base_url",
        "created_at",
    ],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "resource_type": {"const": "launch_context"},
        "status": {"enum": list(STATUSES)},
        "patient": _NULLABLE_TEXT,
        "encounter": _NULLABLE_TEXT,
        "fhir_user": _NULLABLE_TEXT,
        "scope": {"type": "string"},
        "fhir_source": {"type": "string"},
        "fhir_base_url": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}


@dataclass(frozen=True, slots=True)
class LaunchContext(Row):
    """A row of `launch_contexts`."""

    workspace_id: str
    id: str
    status: str
    patient: str | None
    encounter: str | None
    fhir_user: str | None
    scope: str
    source_id: str
    created_ms: int
    updated_ms: int


def new_id(store: Store, ws_id: str) -> str:
    """A UUID from the workspace seed (an `mb_launch` value: an id, not a secret)."""
    seq, seed = workspaces.next_sequence(store, ws_id)
    return str(uuid.UUID(bytes=ids.seeded_bytes(seed, "launch", seq, size=16), version=4))


def get_row(store: Store, ws_id: str, context_id: str) -> LaunchContext:
    row = store.one(
        "SELECT * FROM launch_contexts WHERE workspace_id = ? AND id = ?", (ws_id, context_id)
    )
    if row is None:
        raise not_found("launch context", context_id)
    return LaunchContext.from_row(row)


def create(rt: Runtime, ws_id: str, body: dict[str, Any]) -> LaunchContext:
    source = outside_sources.catalog(rt, ws_id).get(body["connection_id"])
    if source is None:
        raise not_found("source", body["connection_id"], "connection_id")
    status = body.get("status", "ready")
    now = rt.now(ws_id)
    context_id = new_id(rt.store, ws_id)
    with rt.store.tx():
        rt.store.execute(
            "INSERT INTO launch_contexts (workspace_id, id, status, patient, encounter,"
            " fhir_user, scope, source_id, created_ms, updated_ms)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                ws_id,
                context_id,
                status,
                body.get("patient"),
                body.get("encounter"),
                body.get("fhir_user"),
                body.get("scope", DEFAULT_SCOPE),
                source.id,
                now,
                now,
            ),
        )
    return get_row(rt.store, ws_id, context_id)


def make_ready(rt: Runtime, ws_id: str, context_id: str, body: dict[str, Any]) -> LaunchContext:
    """The token exchange happened: `pending -> ready` with the launch's patient."""
    with rt.store.tx():
        context = get_row(rt.store, ws_id, context_id)
        try:
            status = transition(LaunchContextLifecycle, context.status, "exchange")
        except TransitionNotAllowed:
            raise ApiError(
                "resource_conflict", f"Launch context '{context_id}' is already ready"
            ) from None
        rt.store.execute(
            "UPDATE launch_contexts SET status = ?, patient = ?, encounter = ?, fhir_user = ?,"
            " updated_ms = ? WHERE workspace_id = ? AND id = ?",
            (
                status,
                body["patient"],
                body.get("encounter"),
                body.get("fhir_user"),
                rt.now(ws_id),
                ws_id,
                context_id,
            ),
        )
        return get_row(rt.store, ws_id, context_id)


def render(rt: Runtime, context: LaunchContext) -> dict[str, Any]:
    source = outside_sources.catalog(rt, context.workspace_id).get(context.source_id)
    return {
        "id": context.id,
        "resource_type": "launch_context",
        "status": context.status,
        "patient": context.patient,
        "encounter": context.encounter,
        "fhir_user": context.fhir_user,
        "scope": context.scope,
        "fhir_source": context.source_id,
        "fhir_base_url": source.fhir_base_url if source is not None else None,
        "created_at": iso(context.created_ms),
    }

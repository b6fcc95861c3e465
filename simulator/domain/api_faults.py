"""Forced failures of the Connect API itself: the next N matching calls answer an error.

Integrators test their retry logic with these: a 429 carries `Retry-After`,
a 500 is `api_error`, a 502 is `ehr_error`. A call that meets a fault is
answered before its handler runs, so it changes nothing stored. Faults
belong to a workspace and match on an optional method and path prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.core.errors import ApiError
from simulator.core.timeutil import iso
from simulator.domain.rows import Row

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    times_left INTEGER NOT NULL,
    method TEXT,
    path_prefix TEXT,
    retry_after INTEGER,
    fired INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS api_faults_ws ON api_faults (workspace_id, id);
"""

# status -> (code, message); the type follows from the code (simulator/errors.py).
ERRORS = {
    429: ("throttled", "Too many requests (simulated); retry after the Retry-After delay"),
    500: ("internal_error", "An unexpected error occurred (simulated)"),
    502: ("fhir_error", "The upstream EHR failed (simulated)"),
}

INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status"],
    "properties": {
        "status": {
            "description": "The status the faulted calls answer (429, 500 or 502)",
            "enum": sorted(ERRORS),
        },
        "times": {
            "description": "How many calls answer with the fault (default 1)",
            "type": "integer",
            "minimum": 1,
            "maximum": 10000,
        },
        "method": {
            "description": "Only calls with this HTTP method",
            "enum": ["GET", "POST", "PUT", "PATCH", "DELETE"],
        },
        "path_prefix": {
            "description": "Only calls whose path starts with this",
            "type": "string",
            "pattern": "^/",
            "maxLength": 500,
        },
        "retry_after": {
            "description": "Seconds sent in `Retry-After`",
            "type": "integer",
            "minimum": 1,
            "maximum": 86400,
        },
    },
}

FAULT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "status",
        "times_left",
        "method",
        "path_prefix",
        "retry_after",
        "fired",
        "created_at",
    ],
    "properties": {
        "id": {"type": "integer"},
        "status": {"enum": sorted(ERRORS)},
        "times_left": {"type": "integer"},
        "method": {"type": ["string", "null"]},
        "path_prefix": {"type": ["string", "null"]},
        "retry_after": {"type": ["integer", "null"]},
        "fired": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}


@dataclass(frozen=True, slots=True)
class ApiFault(Row):
    """A row of `api_faults`: a forced error for the next `times_left` matching calls."""

    id: int
    workspace_id: str
    status: int
    times_left: int
    method: str | None
    path_prefix: str | None
    retry_after: int | None
    fired: int
    created_ms: int


def render(fault: ApiFault) -> dict[str, Any]:
    return {
        "id": fault.id,
        "status": fault.status,
        "times_left": fault.times_left,
        "method": fault.method,
        "path_prefix": fault.path_prefix,
        "retry_after": fault.retry_after,
        "fired": fault.fired,
        "created_at": iso(fault.created_ms),
    }


def add(rt: Runtime, ws_id: str, body: dict[str, Any]) -> dict[str, Any]:
    status = int(body["status"])
    retry_after = body.get("retry_after", 1 if status == 429 else None)
    with rt.store.tx():
        row = rt.store.one(
            "INSERT INTO api_faults (workspace_id, status, times_left, method, path_prefix,"
            " retry_after, created_ms) VALUES (?,?,?,?,?,?,?) RETURNING *",
            (
                ws_id,
                status,
                body.get("times", 1),
                body.get("method"),
                body.get("path_prefix"),
                retry_after,
                rt.now(ws_id),
            ),
        )
        return render(ApiFault.from_row(row))


def _pending(rt: Runtime, ws_id: str) -> list[ApiFault]:
    rows = rt.store.all(
        "SELECT * FROM api_faults WHERE workspace_id = ? AND times_left > 0 ORDER BY id", (ws_id,)
    )
    return [ApiFault.from_row(r) for r in rows]


def pending(rt: Runtime, ws_id: str) -> list[dict[str, Any]]:
    return [render(fault) for fault in _pending(rt, ws_id)]


def clear(rt: Runtime, ws_id: str) -> int:
    with rt.store.tx():
        return rt.store.execute("DELETE FROM api_faults WHERE workspace_id = ?", (ws_id,)).rowcount


def check(rt: Runtime, ws_id: str, method: str, path: str) -> None:
    """Raise the forced error when a pending fault matches this call (and spend it)."""
    fired = None
    with rt.store.tx():
        for fault in _pending(rt, ws_id):
            if fault.method and fault.method != method:
                continue
            if fault.path_prefix and not path.startswith(fault.path_prefix):
                continue
            rt.store.execute(
                "UPDATE api_faults SET times_left = times_left - 1, fired = fired + 1 WHERE id = ?",
                (fault.id,),
            )
            fired = fault
            break
    if fired is not None:  # raised after the commit, so the fault stays spent
        code, message = ERRORS[fired.status]
        headers = {"Retry-After": str(fired.retry_after)} if fired.retry_after else {}
        raise ApiError(code, message, status=fired.status, headers=headers)

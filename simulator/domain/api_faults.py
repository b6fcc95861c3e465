"""Forced failures of the Connect API itself: the next N matching calls answer an error.

Integrators test their retry logic with these: a 429 carries `Retry-After`,
a 500 is `api_error`, a 502 is `ehr_error`. A call that meets a fault is
answered before its handler runs, so it changes nothing stored. Faults
belong to a workspace and match on an optional method and path prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.core.errors import ApiError
from simulator.core.timeutil import iso

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
        "status": {"enum": sorted(ERRORS)},
        "times": {"type": "integer", "minimum": 1, "maximum": 10000},
        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
        "path_prefix": {"type": "string", "pattern": "^/", "maxLength": 500},
        "retry_after": {"type": "integer", "minimum": 1, "maximum": 86400},
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


def render(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "times_left": row["times_left"],
        "method": row["method"],
        "path_prefix": row["path_prefix"],
        "retry_after": row["retry_after"],
        "fired": row["fired"],
        "created_at": iso(row["created_ms"]),
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
        return render(row)


def pending(rt: Runtime, ws_id: str) -> list[dict[str, Any]]:
    rows = rt.store.all(
        "SELECT * FROM api_faults WHERE workspace_id = ? AND times_left > 0 ORDER BY id", (ws_id,)
    )
    return [render(r) for r in rows]


def clear(rt: Runtime, ws_id: str) -> int:
    with rt.store.tx():
        return rt.store.execute("DELETE FROM api_faults WHERE workspace_id = ?", (ws_id,)).rowcount


def check(rt: Runtime, ws_id: str, method: str, path: str) -> None:
    """Raise the forced error when a pending fault matches this call (and spend it)."""
    fired = None
    with rt.store.tx():
        for row in rt.store.all(
            "SELECT * FROM api_faults WHERE workspace_id = ? AND times_left > 0 ORDER BY id",
            (ws_id,),
        ):
            if row["method"] and row["method"] != method:
                continue
            if row["path_prefix"] and not path.startswith(row["path_prefix"]):
                continue
            rt.store.execute(
                "UPDATE api_faults SET times_left = times_left - 1, fired = fired + 1 WHERE id = ?",
                (row["id"],),
            )
            fired = row
            break
    if fired is not None:  # raised after the commit, so the fault stays spent
        code, message = ERRORS[fired["status"]]
        headers = {"Retry-After": str(fired["retry_after"])} if fired["retry_after"] else {}
        raise ApiError(code, message, status=fired["status"], headers=headers)

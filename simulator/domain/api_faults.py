"""Forced failures of the Connect API itself: the next N matching calls fail on purpose.

Integrators test their error handling and retries with these. A fault answers any
(status, type, code) of the documented catalogue (`simulator.core.errors.CATALOGUE`),
or 503/504 (`api_error`), with `Retry-After` on a 429 (default 1 s). Two more modes
fail below HTTP: `hang` holds the call for `hang_seconds` of wall time (past the
client's timeout) and then answers the fault's error (504 by default); `drop` closes
the connection without any answer. `probability` makes a fault fire on only some of
the matching calls, drawn from the workspace seed and a per-fault counter, so a run
repeats exactly.

A call that meets a fault is answered before its handler runs, so it changes nothing
stored. Faults belong to a workspace and match on an optional method and path prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.core.errors import CATALOGUE, STATUS_OF, ApiError, ConnectionDrop, invalid
from simulator.core.store import Column
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
    created_ms INTEGER NOT NULL,
    fault_id TEXT,
    type TEXT,
    code TEXT,
    message TEXT,
    mode TEXT NOT NULL DEFAULT 'error',
    probability REAL NOT NULL DEFAULT 1,
    hang_ms INTEGER,
    draws INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS api_faults_ws ON api_faults (workspace_id, id);
"""
# `id` orders the faults; `fault_id` (`apifault_…`) is the id the control plane shows.
# `status` is 0 for a dropped connection (it answers none).
# `draws` counts the probability draws made so far (the next draw's label).
COLUMNS: tuple[Column, ...] = (
    ("api_faults", "fault_id", "TEXT"),
    ("api_faults", "type", "TEXT"),
    ("api_faults", "code", "TEXT"),
    ("api_faults", "message", "TEXT"),
    ("api_faults", "mode", "TEXT NOT NULL DEFAULT 'error'"),
    ("api_faults", "probability", "REAL NOT NULL DEFAULT 1"),
    ("api_faults", "hang_ms", "INTEGER"),
    ("api_faults", "draws", "INTEGER NOT NULL DEFAULT 0"),
)

PREFIX = "apifault_"
MODES = ("error", "hang", "drop")
# Beyond the catalogue: a gateway's 503 and 504, answered as `api_error`.
GATEWAY_STATUSES = (503, 504)
STATUSES = tuple(sorted({s for _, _, s in CATALOGUE} | set(GATEWAY_STATUSES)))
TYPES = tuple(dict.fromkeys(t for t, _, _ in CATALOGUE))
CODES = tuple(dict.fromkeys(c for _, c, _ in CATALOGUE))

# The code a fault answers when only its status is given.
DEFAULT_CODE = {
    400: "bad_request",
    401: "invalid_api_key",
    402: "feature_not_enabled",
    403: "forbidden",
    404: "resource_not_found",
    409: "resource_conflict",
    413: "payload_too_large",
    429: "throttled",
    500: "internal_error",
    502: "fhir_error",
    503: "internal_error",
    504: "internal_error",
}
HANG_STATUS = 504
NO_ANSWER = 0  # the stored status of a dropped connection
DEFAULT_HANG_SECONDS = 30.0
MAX_HANG_SECONDS = 300.0

INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "status": {
            "description": "The HTTP status the faulted calls answer (any of the error catalogue, or 503/504)",
            "enum": list(STATUSES),
        },
        "type": {
            "description": "The error `type` of the envelope; the status and code follow from it when left out",
            "enum": list(TYPES),
        },
        "code": {
            "description": "The error `code` of the envelope; the status and type follow from it when left out",
            "enum": list(CODES),
        },
        "message": {
            "description": "The error message to answer (default: the catalogue's)",
            "type": "string",
            "minLength": 1,
            "maxLength": 500,
        },
        "mode": {
            "description": "`error` (answer the error), `hang` (wait, then answer it) or `drop` (close the connection)",
            "enum": list(MODES),
        },
        "probability": {
            "description": "Share of matching calls that meet the fault (0–1, drawn from the workspace seed)",
            "type": "number",
            "minimum": 0,
            "maximum": 1,
        },
        "hang_seconds": {
            "description": "With `mode: hang`: how long to hold the call (wall time)",
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_HANG_SECONDS,
        },
        "times": {
            "description": "How many calls meet the fault (default 1)",
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
            "description": "Seconds sent in `Retry-After` (a 429 sends 1 by default)",
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
        "mode",
        "status",
        "type",
        "code",
        "message",
        "probability",
        "hang_seconds",
        "times_left",
        "method",
        "path_prefix",
        "retry_after",
        "fired",
        "created_at",
    ],
    "properties": {
        "id": {"type": "string", "pattern": f"^{PREFIX}"},
        "mode": {"enum": list(MODES)},
        "status": {"enum": [*STATUSES, None]},
        "type": {"enum": [*TYPES, None]},
        "code": {"enum": [*CODES, None]},
        "message": {"type": ["string", "null"]},
        "probability": {"type": "number"},
        "hang_seconds": {"type": ["number", "null"]},
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
    """A row of `api_faults`: a forced failure for the next `times_left` matching calls."""

    id: int
    workspace_id: str
    status: int
    times_left: int
    method: str | None
    path_prefix: str | None
    retry_after: int | None
    fired: int
    created_ms: int
    fault_id: str | None
    type: str | None
    code: str | None
    message: str | None
    mode: str
    probability: float
    hang_ms: int | None
    draws: int

    @property
    def public_id(self) -> str:
        # a fault stored before faults had prefixed ids is shown under its row number
        return self.fault_id or f"{PREFIX}{self.id}"


def render(fault: ApiFault) -> dict[str, Any]:
    return {
        "id": fault.public_id,
        "mode": fault.mode,
        "status": None if fault.mode == "drop" else fault.status,
        "type": fault.type,
        "code": fault.code,
        "message": fault.message,
        "probability": fault.probability,
        "hang_seconds": None if fault.hang_ms is None else fault.hang_ms / 1000,
        "times_left": fault.times_left,
        "method": fault.method,
        "path_prefix": fault.path_prefix,
        "retry_after": fault.retry_after,
        "fired": fault.fired,
        "created_at": iso(fault.created_ms),
    }


def resolve(body: dict[str, Any]) -> tuple[int, str, str] | None:
    """The (status, type, code) a fault answers, checked against the catalogue.

    None for a dropped connection (it answers nothing). A field that contradicts
    the catalogue is 400 `invalid_data` naming it.
    """
    mode = body.get("mode", "error")
    status, type_, code = body.get("status"), body.get("type"), body.get("code")
    if mode == "drop":
        for field in ("status", "type", "code", "message", "retry_after"):
            if field in body:
                raise invalid(f"A dropped connection answers nothing: leave out '{field}'", field)
        return None
    if mode == "hang" and status is None and type_ is None and code is None:
        status = HANG_STATUS
    if status is None and type_ is None and code is None:
        raise invalid("Send 'status' or 'code' (or 'mode': 'hang' or 'drop')", "status")
    if status in GATEWAY_STATUSES:
        if type_ not in (None, "api_error"):
            raise invalid(f"Status {status} answers an api_error, not {type_}", "type")
        code = code or DEFAULT_CODE[status]
        if ("api_error", code) not in STATUS_OF:
            raise invalid(f"Status {status} answers an api_error code, not '{code}'", "code")
        return status, "api_error", code
    entries = [e for e in CATALOGUE if code is None or e[1] == code]
    if type_ is not None:
        if not any(e[0] == type_ for e in entries):
            kinds = " or ".join(sorted({t for t, _, _ in entries}))
            raise invalid(f"Code '{code}' is a {kinds} code, not {type_}", "code")
        entries = [e for e in entries if e[0] == type_]
    if status is not None:
        if not any(e[2] == status for e in entries):
            found = " or ".join(sorted({str(s) for _, _, s in entries}))
            what = f"Code '{code}'" if code is not None else f"Type '{type_}'"
            raise invalid(f"{what} answers status {found}, not {status}", "status")
        entries = [e for e in entries if e[2] == status]
    if code is None:  # the usual code of the status, or the type's first
        usual = [e for e in entries if type_ is None and e[1] == DEFAULT_CODE.get(status or 0)]
        entries = usual or entries[:1]
    if len(entries) > 1:
        found = " or ".join(f"{t} ({s})" for t, _, s in entries)
        raise invalid(f"Code '{code}' is {found}: send 'type' or 'status' to choose", "type")
    type_, code, status = entries[0]
    return status, type_, code


def default_message(type_: str, code: str) -> str:
    return f"Simulated {type_} '{code}' (forced by /_sim/api-faults)"


def add(rt: Runtime, ws_id: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = resolve(body)
    status, type_, code = answer if answer is not None else (NO_ANSWER, None, None)
    mode = body.get("mode", "error")
    retry_after = body.get("retry_after", 1 if status == 429 else None)
    hang_ms = None
    if mode == "hang":
        hang_ms = round(body.get("hang_seconds", DEFAULT_HANG_SECONDS) * 1000)
    elif "hang_seconds" in body:
        raise invalid("'hang_seconds' is for 'mode': 'hang'", "hang_seconds")
    message = body.get("message")
    if message is None and type_ is not None and code is not None:
        message = default_message(type_, code)
    with rt.store.tx():
        fault_id, _ = rt.new_id(ws_id, PREFIX)
        row = rt.store.one(
            "INSERT INTO api_faults (workspace_id, fault_id, mode, status, type, code, message,"
            " probability, hang_ms, times_left, method, path_prefix, retry_after, created_ms)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
            (
                ws_id,
                fault_id,
                mode,
                status,
                type_,
                code,
                message,
                float(body.get("probability", 1)),
                hang_ms,
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


def _draw(rt: Runtime, ws_id: str, fault: ApiFault) -> bool:
    """Whether a matching call meets the fault (always, at probability 1); counts the draw."""
    if fault.probability >= 1:
        return True
    rt.store.execute("UPDATE api_faults SET draws = draws + 1 WHERE id = ?", (fault.id,))
    if fault.probability <= 0:
        return False
    draw = rt.rng(ws_id, "api-fault", fault.public_id, fault.draws).random()
    return draw < fault.probability


def take(rt: Runtime, ws_id: str, method: str, path: str) -> ApiFault | None:
    """The pending fault this call meets (spent by one), or None.

    Most workspaces have none: one read outside a transaction says so, without taking
    the store's write lock for every call (a fault stored while this runs is for the
    calls after it)."""
    if not _pending(rt, ws_id):
        return None
    with rt.store.tx():
        for fault in _pending(rt, ws_id):
            if fault.method and fault.method != method:
                continue
            if fault.path_prefix and not path.startswith(fault.path_prefix):
                continue
            if not _draw(rt, ws_id, fault):
                continue
            rt.store.execute(
                "UPDATE api_faults SET times_left = times_left - 1, fired = fired + 1 WHERE id = ?",
                (fault.id,),
            )
            return fault
    return None


def error_of(fault: ApiFault) -> ApiError:
    """The error a fault answers (a fault stored before types and codes: by its status)."""
    status = fault.status or HANG_STATUS
    code = fault.code or DEFAULT_CODE[status]
    type_ = fault.type or ("api_error" if status in GATEWAY_STATUSES else None)
    if type_ is None:
        type_ = next(t for t, c, s in CATALOGUE if c == code and s == status)
    message = fault.message or default_message(type_, code)
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
    return ApiError(code, message, status=status, type_=type_, headers=headers)


def check(rt: Runtime, ws_id: str, method: str, path: str) -> None:
    """Fail this call as the pending fault it meets says: raise its error (after a hang),
    or `ConnectionDrop`. Runs after the fault is spent and committed, holding no
    transaction and no clock, so a hang blocks nothing but its own call."""
    fault = take(rt, ws_id, method, path)
    if fault is None:
        return
    if fault.mode == "drop":
        raise ConnectionDrop(f"connection dropped by {fault.public_id}")
    if fault.mode == "hang" and fault.hang_ms:
        rt.stopping.wait(fault.hang_ms / 1000)  # a SIGTERM drain ends the wait at once
    raise error_of(fault)

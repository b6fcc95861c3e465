"""Stored FHIR records and the `GET /patients/{id}/records` page.

Resources are upserted by (patient, source, type, id). Each stored resource
has a position (`seq`) fixed when it is first stored, so pages keep a stable
order while re-pulls update content. Cursors are 12-character opaque tokens,
bound to the patient and filters, valid for 7 virtual days.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from simulator.core.errors import invalid
from simulator.core.store import Store, dumps, loads
from simulator.core.timeutil import DAY, parse_iso

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    workspace_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    changed_ms INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (workspace_id, patient_id, source_id, resource_type, resource_id)
);
CREATE INDEX IF NOT EXISTS records_order ON records (workspace_id, patient_id, seq);
CREATE TABLE IF NOT EXISTS record_cursors (
    workspace_id TEXT NOT NULL,
    cursor TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    filters TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, cursor)
);
CREATE TABLE IF NOT EXISTS record_sequence (
    workspace_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
"""

PATIENT_ID_SYSTEM = "urn:medblocks:patient-id"
CURSOR_TTL_MS = 7 * DAY
CURSOR_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TYPE_RE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
DEFAULT_COUNT = 100


def tag_patient(resource: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """A Patient carries the developer's id as `urn:medblocks:patient-id`."""
    if resource.get("resourceType") != "Patient":
        return resource
    identifiers = [
        i for i in resource.get("identifier") or [] if i.get("system") != PATIENT_ID_SYSTEM
    ]
    identifiers.append({"system": PATIENT_ID_SYSTEM, "value": patient_id})
    return {**resource, "identifier": identifiers}


def _next_seq(store: Store, ws_id: str, count: int) -> int:
    """Reserve `count` positions; answers the first (one upsert, RETURNING the new last)."""
    last = store.scalar(
        "INSERT INTO record_sequence (workspace_id, last_seq) VALUES (?, ?)"
        " ON CONFLICT(workspace_id) DO UPDATE SET last_seq = record_sequence.last_seq + excluded.last_seq"
        " RETURNING last_seq",
        (ws_id, count),
    )
    return int(last) - count + 1


def upsert(
    rt: Runtime, ws_id: str, patient_id: str, source_id: str, resources: list[dict[str, Any]]
) -> int:
    """Store resources; answers how many were new or changed."""
    changed = 0
    store = rt.store
    with store.tx():
        now = rt.now(ws_id)
        fresh: list[tuple[str, str, str]] = []
        stored = _stored_bodies(store, ws_id, patient_id, source_id, resources)
        for resource in resources:
            rtype, rid = str(resource.get("resourceType")), str(resource.get("id") or "")
            if not rid:
                continue
            body = dumps(tag_patient(resource, patient_id))
            existing = stored.get((rtype, rid))
            if existing is None:
                fresh.append((rtype, rid, body))
                stored[(rtype, rid)] = body
            elif existing != body:
                store.execute(
                    "UPDATE records SET body = ?, changed_ms = ? WHERE workspace_id = ?"
                    " AND patient_id = ? AND source_id = ? AND resource_type = ?"
                    " AND resource_id = ?",
                    (body, now, ws_id, patient_id, source_id, rtype, rid),
                )
                changed += 1
        if fresh:
            first = _next_seq(store, ws_id, len(fresh))
            store.executemany(
                "INSERT INTO records (workspace_id, patient_id, source_id, resource_type,"
                " resource_id, seq, changed_ms, body) VALUES (?,?,?,?,?,?,?,?)",
                [
                    (ws_id, patient_id, source_id, rtype, rid, first + i, now, body)
                    for i, (rtype, rid, body) in enumerate(fresh)
                ],
            )
            changed += len(fresh)
    return changed


def _stored_bodies(
    store: Store, ws_id: str, patient_id: str, source_id: str, resources: list[dict[str, Any]]
) -> dict[tuple[str, str], str]:
    """The stored copies of these resources, in one query per resource type."""
    by_type: dict[str, list[str]] = {}
    for resource in resources:
        if resource.get("id"):
            by_type.setdefault(str(resource.get("resourceType")), []).append(str(resource["id"]))
    found: dict[tuple[str, str], str] = {}
    for rtype, rids in by_type.items():
        for start in range(0, len(rids), 500):
            chunk = rids[start : start + 500]
            rows = store.all(
                "SELECT resource_id, body FROM records WHERE workspace_id = ? AND patient_id = ?"
                f" AND source_id = ? AND resource_type = ? AND resource_id IN"
                f" ({','.join('?' * len(chunk))})",
                (ws_id, patient_id, source_id, rtype, *chunk),
            )
            found.update({(rtype, r["resource_id"]): r["body"] for r in rows})
    return found


def count_for(store: Store, ws_id: str, patient_id: str, source_id: str | None = None) -> int:
    sql = "SELECT COUNT(*) FROM records WHERE workspace_id = ? AND patient_id = ?"
    params: list[Any] = [ws_id, patient_id]
    if source_id is not None:
        sql += " AND source_id = ?"
        params.append(source_id)
    return int(store.scalar(sql, tuple(params)))


# -- the records page -------------------------------------------------------------------------


def _filters(args: dict[str, str]) -> tuple[list[str] | None, int | None, str]:
    types = None
    if args.get("type") is not None:
        types = [t.strip() for t in args["type"].split(",") if t.strip()]
        if not types or any(not TYPE_RE.match(t) for t in types):
            raise invalid(
                "'type' must be a comma-separated list of FHIR resource types,"
                " e.g. Observation,Condition",
                "type",
            )
    since = None
    if args.get("since") is not None:
        try:
            since = parse_iso(args["since"])
        except ValueError:
            raise invalid("'since' must be an ISO 8601 date or date-time", "since") from None
    signature = dumps({"type": sorted(types) if types else None, "since": since})
    return types, since, signature


def _count(args: dict[str, str]) -> int:
    raw = args.get("count")
    if raw is None:
        return DEFAULT_COUNT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise invalid("'count' must be an integer between 1 and 100", "count")
    return int(raw)


def _make_cursor(rt: Runtime, ws_id: str, patient_id: str, signature: str, seq: int) -> str:
    now = rt.now(ws_id)
    seed = rt.seed_of(ws_id)
    digest = hashlib.sha256(f"{seed}:{ws_id}:{patient_id}:{signature}:{seq}:{now}".encode())
    value = int.from_bytes(digest.digest()[:10], "big")
    chars = []
    for _ in range(12):
        value, index = divmod(value, 62)
        chars.append(CURSOR_ALPHABET[index])
    cursor = "".join(chars)
    rt.store.execute(
        "INSERT INTO record_cursors (workspace_id, cursor, patient_id, filters, seq,"
        " created_ms) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        (ws_id, cursor, patient_id, signature, seq, now),
    )
    return cursor


def _read_cursor(
    rt: Runtime, ws_id: str, patient_id: str, signature: str, cursor: str, param: str
) -> int:
    row = rt.store.one(
        "SELECT * FROM record_cursors WHERE workspace_id = ? AND cursor = ?", (ws_id, cursor)
    )
    if row is None or row["patient_id"] != patient_id:
        raise invalid(f"'{param}' is not a cursor of this patient's records", param)
    if row["filters"] != signature:
        raise invalid(f"'{param}' was made with other filters; keep 'type' and 'since'", param)
    if rt.now(ws_id) - row["created_ms"] >= CURSOR_TTL_MS:
        raise invalid(f"'{param}' has expired (cursors are valid for 7 days)", param)
    return int(row["seq"])


def page(rt: Runtime, ws_id: str, patient_id: str, args: dict[str, str]) -> dict[str, Any]:
    types, since, signature = _filters(args)
    count = _count(args)
    after, before = args.get("starting_after"), args.get("ending_before")
    if after is not None and before is not None:
        raise invalid("Use either 'starting_after' or 'ending_before', not both", "ending_before")
    where = "workspace_id = ? AND patient_id = ?"
    params: list[Any] = [ws_id, patient_id]
    if types:
        where += f" AND resource_type IN ({','.join('?' * len(types))})"
        params.extend(types)
    if since is not None:
        where += " AND changed_ms > ?"
        params.append(since)
    with rt.store.tx():
        if before is not None:
            edge = _read_cursor(rt, ws_id, patient_id, signature, before, "ending_before")
            rows = rt.store.all(
                f"SELECT * FROM records WHERE {where} AND seq < ? ORDER BY seq DESC LIMIT ?",
                (*params, edge, count),
            )[::-1]
        else:
            edge = 0
            if after is not None:
                edge = _read_cursor(rt, ws_id, patient_id, signature, after, "starting_after")
            rows = rt.store.all(
                f"SELECT * FROM records WHERE {where} AND seq > ? ORDER BY seq LIMIT ?",
                (*params, edge, count),
            )
        has_more = previous = False
        if rows:
            has_more = (
                rt.store.one(
                    f"SELECT 1 FROM records WHERE {where} AND seq > ? LIMIT 1",
                    (*params, rows[-1]["seq"]),
                )
                is not None
            )
            previous = (
                rt.store.one(
                    f"SELECT 1 FROM records WHERE {where} AND seq < ? LIMIT 1",
                    (*params, rows[0]["seq"]),
                )
                is not None
            )
        return {
            "resource_type": "list",
            "patient_id": patient_id,
            "data": [{"source": r["source_id"], "resource": loads(r["body"])} for r in rows],
            "has_more": has_more,
            "next_cursor": _make_cursor(rt, ws_id, patient_id, signature, rows[-1]["seq"])
            if has_more
            else None,
            "previous_cursor": _make_cursor(rt, ws_id, patient_id, signature, rows[0]["seq"])
            if previous
            else None,
        }

"""Background pull: fetch every supported resource type for an active connection.

A pull is a resumable job on the workspace clock. It reads the portal's
CapabilityStatement, searches each supported type for the patient and follows
`next` links, storing what it gets. A 429 suspends it until `Retry-After`
(virtual seconds) has passed; a transient 5xx or timeout is retried with
backoff, then recorded as that type's error; a 401 is answered with one
refresh. A settled pull emits `records.sync.completed` (with `errors` for the
types that failed) or `records.sync.failed` (nothing could be read), then the
next pull is scheduled `repull_interval_s` later while access holds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from statemachine import State, StateMachine

from simulator.clients import fhir
from simulator.clients.fhir import FhirError
from simulator.core.lifecycle import edge, transition
from simulator.core.store import dumps, loads
from simulator.core.timeutil import MINUTE, SECOND, iso
from simulator.domain import attempts, connections, keepalive, outside_sources, records
from simulator.domain.connections import Connection
from simulator.domain.rows import Row
from simulator.domain.webhooks import publish

if TYPE_CHECKING:
    from simulator.core.jobs import Job
    from simulator.core.runtime import Runtime
    from simulator.core.sources import Source
    from simulator.core.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS pulls (
    workspace_id TEXT NOT NULL,
    pull_id TEXT NOT NULL,
    attempt_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    types TEXT,
    type_index INTEGER NOT NULL DEFAULT 0,
    next_url TEXT,
    retries INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    errors TEXT NOT NULL DEFAULT '[]',
    error_message TEXT,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    since_ms INTEGER,
    PRIMARY KEY (workspace_id, pull_id)
);
CREATE INDEX IF NOT EXISTS pulls_attempt ON pulls (workspace_id, attempt_id, started_ms);
CREATE TABLE IF NOT EXISTS pull_capabilities (
    workspace_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    fhir_base_url TEXT NOT NULL,
    types TEXT NOT NULL,
    incremental INTEGER NOT NULL,
    fresh_until_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, source_id)
);
"""
# `pull_capabilities`: the CapabilityStatement a pull read last, per source, kept for as
# long as its `Cache-Control: max-age` allows on the workspace's clock (an answer that
# allows none is not kept), so pulls within that time do not ask again.
# `since_ms`: an incremental pull asks each type for `_lastUpdated=ge<since>` (null: all).
COLUMNS = (("pulls", "since_ms", "INTEGER"),)
INCREMENTAL_PARAM = "_lastUpdated"
# The 24-hour re-pull is the incremental one; a pull asked for (`manual`) or a first one
# (`connected`) reads everything.
SCHEDULED = "scheduled"

PULL_JOB = "records.pull"
PAGE_RETRY_BACKOFF_MS = (10 * SECOND, MINUTE, 5 * MINUTE)
DEFAULT_RETRY_AFTER_S = 60


class PullLifecycle(StateMachine):
    """A pull: scheduled -> running -> completed | failed | cancelled.

    A scheduled pull that has not started is replaced or dropped (its row is
    deleted), not moved. Access lost while a pull runs cancels it; when the
    pull's own token refresh was the one refused, the pull then records that
    as its failure (cancelled -> failed, with the message and the event).
    """

    scheduled = State(initial=True)
    running = State()
    completed = State(final=True)
    failed = State(final=True)
    cancelled = State()

    begin = scheduled.to(running)
    complete = running.to(completed)
    fail = running.to(failed) | cancelled.to(failed)
    cancel = running.to(cancelled)


_CANCEL = edge(PullLifecycle, "cancel")


@dataclass(frozen=True, slots=True)
class Pull(Row):
    """A row of `pulls` (`types` and `errors` are JSON text; `types` is null until read)."""

    workspace_id: str
    pull_id: str
    attempt_id: str
    patient_id: str
    source_id: str
    reason: str
    status: str
    types: str | None
    type_index: int
    next_url: str | None
    retries: int
    total: int
    errors: str
    error_message: str | None
    started_ms: int
    finished_ms: int | None
    since_ms: int | None


def job_key(attempt_id: str) -> str:
    return f"pull:{attempt_id}"


def start(
    rt: Runtime, ws_id: str, attempt_id: str, *, reason: str, due_ms: int | None = None
) -> str:
    """Schedule a pull of an active connection (replacing one not yet started)."""
    with rt.store.tx():
        conn = connections.by_attempt(rt.store, ws_id, attempt_id)
        running = rt.store.scalar(
            "SELECT pull_id FROM pulls WHERE workspace_id = ? AND attempt_id = ?"
            " AND status = 'running'",
            (ws_id, attempt_id),
        )
        if running is not None:
            return running
        now = rt.now(ws_id)
        # no write here is read back: each travels with the statement or COMMIT after it
        rt.store.execute_later(  # a pull that never started is replaced, not kept
            "DELETE FROM pulls WHERE workspace_id = ? AND attempt_id = ? AND status = 'scheduled'",
            (ws_id, attempt_id),
        )
        pull_id, _ = rt.new_id(ws_id, "pull_")
        rt.store.execute_later(
            "INSERT INTO pulls (workspace_id, pull_id, attempt_id, patient_id, source_id, reason,"
            " status, started_ms) VALUES (?,?,?,?,?,?,?,?)",
            (
                ws_id,
                pull_id,
                attempt_id,
                conn.patient_id,
                conn.source_id,
                reason,
                PullLifecycle.initial_state.value,
                due_ms or now,
            ),
        )
        rt.scheduler.cancel(ws_id, key=job_key(attempt_id), count=False)
        rt.scheduler.schedule_later(
            ws_id, PULL_JOB, due_ms or now, {"pull_id": pull_id}, key=job_key(attempt_id)
        )
        return pull_id


def _pull(rt: Runtime, ws_id: str, pull_id: str) -> Pull | None:
    return Pull.maybe(
        rt.store.one("SELECT * FROM pulls WHERE workspace_id = ? AND pull_id = ?", (ws_id, pull_id))
    )


def _save(rt: Runtime, ws_id: str, pull_id: str, **fields: Any) -> None:
    """Set columns of a pull. Nothing is read back: in a transaction the write may travel
    with its next statement or its COMMIT (`Store.execute_later`)."""
    assignments = ", ".join(f"{name} = ?" for name in fields)
    rt.store.execute_later(
        f"UPDATE pulls SET {assignments} WHERE workspace_id = ? AND pull_id = ?",
        (*fields.values(), ws_id, pull_id),
    )


def _flush(rt: Runtime, ws_id: str, pull_id: str, unsaved: dict[str, Any]) -> None:
    """Write the progress a run kept back (empty pages), if any, in one statement."""
    if unsaved:
        _save(rt, ws_id, pull_id, **unsaved)
        unsaved.clear()


def move(
    rt: Runtime, ws_id: str, pull_id: str, event: str, *, current: str | None = None, **fields: Any
) -> None:
    """Apply a PullLifecycle event to a pull (raises on a bad move) and set extra columns.
    `current`: the pull's status as the caller read it in this transaction (else read)."""
    if current is None:
        current = _pull(rt, ws_id, pull_id).status
    status = transition(PullLifecycle, current, event)
    _save(rt, ws_id, pull_id, status=status, **fields)


def _resume_at(rt: Runtime, ws_id: str, pull: Pull, due_ms: int) -> None:
    rt.scheduler.schedule_later(
        ws_id, PULL_JOB, due_ms, {"pull_id": pull.pull_id}, key=job_key(pull.attempt_id)
    )


def run(rt: Runtime, ws_id: str, pull_id: str) -> None:
    """Run a pull as far as it can go now."""
    with rt.store.tx():  # read where it is moved: nobody else moves it in between
        pull = _pull(rt, ws_id, pull_id)
        if pull is None or pull.status in ("completed", "failed", "cancelled"):
            return
        if pull.status == "scheduled":
            move(
                rt,
                ws_id,
                pull_id,
                "begin",
                current=pull.status,
                started_ms=rt.now(ws_id),
                since_ms=_since(rt, ws_id, pull.attempt_id) if pull.reason == SCHEDULED else None,
            )
    attempt_id = pull.attempt_id
    source = outside_sources.source(rt, ws_id, pull.source_id)
    timeout = rt.config.http_timeout
    refreshed_for_401 = False
    # Only this run writes the pull's progress columns while its job runs, so after a
    # write of its own the run goes on with the row as written (`known`) instead of
    # reading it back; it reads the row again after anything else wrote it.
    known: Pull | None = None
    # An empty page's progress is not written at once: it goes with the next page that
    # stores resources or with the settling move, else it is written before anything
    # else the run does. After a crash the run starts again from the last page written
    # and reads those empty pages again.
    unsaved: dict[str, Any] = {}
    while True:
        pull = known if known is not None else _pull(rt, ws_id, pull_id)
        known = pull
        found = attempts.tokens_with_connection(rt, ws_id, attempt_id)  # one read a page
        if found is None or found[1] != "active" or source is None:
            with rt.store.tx():
                move(rt, ws_id, pull_id, "cancel", finished_ms=rt.now(ws_id), **unsaved)
            return
        tokens = found[0]
        now = rt.now(ws_id)
        if keepalive.needs_refresh(rt, tokens):
            _flush(rt, ws_id, pull_id, unsaved)
            outcome = keepalive.refresh_now(rt, ws_id, attempt_id)
            if outcome == "transient":
                _resume_at(rt, ws_id, pull, rt.now(ws_id) + PAGE_RETRY_BACKOFF_MS[1])
                return
            if outcome != "ok":
                _fail(rt, ws_id, pull_id, "Access to the portal was lost: the token refresh failed")
                return
            continue
        try:
            if pull.types is None:
                capability = _capability(rt, ws_id, source, timeout, now)
                fields: dict[str, Any] = {"types": dumps(capability.types)}
                if pull.since_ms is not None and not capability.incremental:
                    fields["since_ms"] = None  # the portal cannot say what changed: read all
                _save(rt, ws_id, pull_id, **fields)  # one statement: no BEGIN
                known = replace(pull, **fields)
                continue
            types = loads(pull.types, [])
            if pull.type_index >= len(types):
                _settle(rt, ws_id, pull_id, **unsaved)  # the last empty pages go with it
                return
            rtype = types[pull.type_index]
            url = pull.next_url or fhir.first_page_url(
                source.fhir_base_url,
                rtype,
                tokens.portal_patient or "",
                rt.config.pull_page_size,
                since=iso(pull.since_ms),
            )
            body = fhir.get_json(rt.http, url, tokens.access_token, timeout, now)
            page = fhir.read_page(body, source.fhir_base_url)
        except FhirError as exc:
            _flush(rt, ws_id, pull_id, unsaved)
            if exc.status == 401 and not refreshed_for_401 and tokens.refresh_token:
                refreshed_for_401 = True
                outcome = keepalive.refresh_now(rt, ws_id, attempt_id)
                if outcome == "ok":
                    continue
                if outcome == "transient":
                    _resume_at(rt, ws_id, pull, rt.now(ws_id) + PAGE_RETRY_BACKOFF_MS[1])
                    return
                _fail(rt, ws_id, pull_id, "Access to the portal was lost: the token refresh failed")
                return
            if exc.status == 401:
                _fail(rt, ws_id, pull_id, f"The portal refused the access token: {exc.message}")
                return
            if not _handle_error(rt, ws_id, pull, exc):
                return
            known = None  # the error was recorded on the row: read it again
            continue
        refreshed_for_401 = False
        progress: dict[str, Any] = {
            "next_url": page.next_url,
            "retries": 0,
            "total": pull.total + len(page.resources),
        }
        if not page.next_url:
            progress["type_index"] = pull.type_index + 1
        if page.resources:
            with rt.store.tx():
                records.upsert(rt, ws_id, pull.patient_id, pull.source_id, page.resources)
                _save(rt, ws_id, pull_id, **{**unsaved, **progress})
            unsaved.clear()
        else:  # an incremental re-pull's pages are mostly empty: written later, once
            unsaved.update(progress)
        known = replace(pull, **progress)


def _capability(
    rt: Runtime, ws_id: str, source: Source, timeout: float, now: int
) -> fhir.Capability:
    """The source's capability: the kept one while fresh, else read from the portal (and
    kept when its answer allows)."""
    row = rt.store.one(
        "SELECT types, incremental FROM pull_capabilities WHERE workspace_id = ?"
        " AND source_id = ? AND fhir_base_url = ? AND fresh_until_ms > ?",
        (ws_id, source.id, source.fhir_base_url, now),
    )
    if row is not None:
        return fhir.Capability(loads(row["types"], []), bool(row["incremental"]), None)
    capability = fhir.read_capability(
        rt.http, source.fhir_base_url, timeout, now, INCREMENTAL_PARAM
    )
    if capability.max_age_s:
        with rt.store.tx():
            rt.store.execute(
                "INSERT INTO pull_capabilities (workspace_id, source_id, fhir_base_url, types,"
                " incremental, fresh_until_ms) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT (workspace_id, source_id) DO UPDATE SET"
                " fhir_base_url = excluded.fhir_base_url, types = excluded.types,"
                " incremental = excluded.incremental, fresh_until_ms = excluded.fresh_until_ms",
                (
                    ws_id,
                    source.id,
                    source.fhir_base_url,
                    dumps(capability.types),
                    int(capability.incremental),
                    now + capability.max_age_s * SECOND,
                ),
            )
    return capability


def _since(rt: Runtime, ws_id: str, attempt_id: str) -> int | None:
    """Where an incremental pull starts: when the last clean pull (completed, no type failed)
    of this connection began. None when there is none: read everything."""
    return rt.store.scalar(
        "SELECT MAX(started_ms) FROM pulls WHERE workspace_id = ? AND attempt_id = ?"
        " AND status = ? AND errors = '[]'",
        (ws_id, attempt_id, PullLifecycle.completed.value),
    )


def _handle_error(rt: Runtime, ws_id: str, pull: Pull, exc: FhirError) -> bool:
    """Answers True to go on now, False when the pull was suspended or ended."""
    now = rt.now(ws_id)
    if pull.types is None:  # no CapabilityStatement: nothing can be read
        if exc.transient and pull.retries < len(PAGE_RETRY_BACKOFF_MS):
            with rt.store.tx():
                _save(rt, ws_id, pull.pull_id, retries=pull.retries + 1)
                _resume_at(rt, ws_id, pull, now + PAGE_RETRY_BACKOFF_MS[pull.retries])
            return False
        _fail(rt, ws_id, pull.pull_id, f"The portal's capability statement failed: {exc.message}")
        return False
    if exc.status == 429:
        delay = (exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER_S) * SECOND
        with rt.store.tx():
            _resume_at(rt, ws_id, pull, now + delay)
        return False
    if exc.transient and pull.retries < len(PAGE_RETRY_BACKOFF_MS):
        with rt.store.tx():
            _save(rt, ws_id, pull.pull_id, retries=pull.retries + 1)
            _resume_at(rt, ws_id, pull, now + PAGE_RETRY_BACKOFF_MS[pull.retries])
        return False
    types = loads(pull.types, [])
    errors = loads(pull.errors, [])
    errors.append(
        {"resource_type": types[pull.type_index], "status": exc.status, "message": exc.message}
    )
    with rt.store.tx():
        _save(
            rt,
            ws_id,
            pull.pull_id,
            errors=dumps(errors),
            retries=0,
            next_url=None,
            type_index=pull.type_index + 1,
        )
    return True


def _settle(rt: Runtime, ws_id: str, pull_id: str, **progress: Any) -> None:
    """Complete (or fail) a pull that has read every type; `progress`: columns the run
    kept back (empty pages), written with the settling move."""
    with rt.store.tx():
        pull = _pull(rt, ws_id, pull_id)
        types = loads(pull.types, [])
        errors = loads(pull.errors, [])
        if types and len(errors) >= len(types):
            _fail(
                rt,
                ws_id,
                pull_id,
                "Every resource type failed: " + "; ".join(e["message"] for e in errors[:3]),
                **progress,
            )
            return
        now = rt.now(ws_id)
        move(rt, ws_id, pull_id, "complete", current=pull.status, finished_ms=now, **progress)
        publish.emit(
            rt,
            ws_id,
            "records.sync.completed",
            {
                "resource_type": "records_sync",
                "patient_id": pull.patient_id,
                "connection_id": pull.source_id,
                "total": pull.total,
                "errors": errors,
                "duration_ms": now - pull.started_ms,
            },
        )
        _schedule_next(rt, ws_id, pull)


def _fail(rt: Runtime, ws_id: str, pull_id: str, message: str, **progress: Any) -> None:
    with rt.store.tx():
        pull = _pull(rt, ws_id, pull_id)
        move(
            rt,
            ws_id,
            pull_id,
            "fail",
            current=pull.status,
            finished_ms=rt.now(ws_id),
            error_message=message,
            **progress,
        )
        publish.emit(
            rt,
            ws_id,
            "records.sync.failed",
            {
                "resource_type": "records_sync",
                "patient_id": pull.patient_id,
                "connection_id": pull.source_id,
                "error_message": message,
            },
        )
        conn = connections.by_attempt(rt.store, ws_id, pull.attempt_id)
        if conn is not None and conn.status == "active":
            _schedule_next(rt, ws_id, pull)


def _schedule_next(rt: Runtime, ws_id: str, pull: Pull) -> None:
    due = rt.now(ws_id) + rt.config.repull_interval_s * SECOND
    start(rt, ws_id, pull.attempt_id, reason=SCHEDULED, due_ms=due)


def last_pull(rt: Runtime, ws_id: str, attempt_id: str) -> Pull | None:
    return Pull.maybe(
        rt.store.one(
            "SELECT * FROM pulls WHERE workspace_id = ? AND attempt_id = ?"
            " AND status != 'scheduled' ORDER BY started_ms DESC, pull_id DESC LIMIT 1",
            (ws_id, attempt_id),
        )
    )


def recent_of(store: Store, ws_id: str, attempt_id: str, limit: int) -> list[Pull]:
    """A connection's newest pulls (the scheduled next one included), newest first."""
    rows = store.all(
        "SELECT * FROM pulls WHERE workspace_id = ? AND attempt_id = ?"
        " ORDER BY started_ms DESC, pull_id DESC LIMIT ?",
        (ws_id, attempt_id, limit),
    )
    return [Pull.from_row(r) for r in rows]


def pull_job(rt: Runtime, job: Job) -> None:
    run(rt, job.workspace_id, job.payload["pull_id"])


def on_activate(rt: Runtime, ws_id: str, conn: Connection) -> None:
    """A connection became active: its first pull starts now."""
    start(rt, ws_id, conn.attempt_id, reason="connected")


def stop(rt: Runtime, ws_id: str, conn: Connection) -> None:
    """Access ended (disconnected, refresh failed, lapsed): no more pulls of this connection."""
    rt.scheduler.cancel(ws_id, key=job_key(conn.attempt_id))
    rt.store.execute(
        "DELETE FROM pulls WHERE workspace_id = ? AND attempt_id = ? AND status = 'scheduled'",
        (ws_id, conn.attempt_id),
    )
    rt.store.execute(
        "UPDATE pulls SET status = ?, finished_ms = ? WHERE workspace_id = ?"
        " AND attempt_id = ? AND " + _CANCEL.where("status"),
        (_CANCEL.target, rt.now(ws_id), ws_id, conn.attempt_id, *_CANCEL.sources),
    )

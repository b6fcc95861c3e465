"""Patient sessions: the browser flow object (`ps_`; `pf_` or `sess_` in B and A workspaces)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from statemachine import State, StateMachine

from simulator.core import ids, naming, pagination
from simulator.core.errors import ApiError, invalid, not_found
from simulator.core.lifecycle import TransitionNotAllowed, states, transition
from simulator.core.store import Store, dumps, loads
from simulator.core.timeutil import SECOND, iso
from simulator.core.validation import check_return_url
from simulator.domain import connections, outside_sources, patients
from simulator.domain.rows import Row

if TYPE_CHECKING:
    from simulator.core.jobs import Job
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS patient_sessions (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    generation TEXT NOT NULL,
    status TEXT NOT NULL,
    token TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    connection_id TEXT,
    recommended_connection_ids TEXT,
    return_url TEXT NOT NULL,
    return_button_label TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    expires_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    completed_ms INTEGER,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS patient_sessions_token ON patient_sessions (token);
CREATE INDEX IF NOT EXISTS patient_sessions_patient ON patient_sessions (workspace_id, patient_id, seq);
"""

DEFAULT_EXPIRES_IN = 1800
EXPIRE_JOB = "session.expire"


class SessionLifecycle(StateMachine):
    """PatientSession: open -> complete | expired (both terminal)."""

    open = State(initial=True)
    complete = State(final=True)
    expired = State(final=True)

    finish = open.to(complete)
    expire = open.to(expired)


STATUSES = states(SessionLifecycle)


@dataclass(frozen=True, slots=True)
class Session(Row):
    """A row of `patient_sessions` (`recommended_connection_ids`, `metadata`: JSON text)."""

    workspace_id: str
    id: str
    seq: int
    generation: str
    status: str
    token: str
    patient_id: str
    connection_id: str | None
    recommended_connection_ids: str | None
    return_url: str
    return_button_label: str | None
    metadata: str
    expires_ms: int
    created_ms: int
    completed_ms: int | None


# The generations themselves (prefix, resource_type, paths, …) are `simulator.core.naming`'s;
# a session is made under its workspace's generation and keeps it (`generation`).


def render(
    store: Store, ws_id: str, session: Session, gen: naming.Generation | None = None
) -> dict[str, Any]:
    gen = gen or naming.generation(session.generation)
    return {
        "id": session.id,
        "resource_type": gen.resource_type,
        "status": session.status,
        "url": None,  # filled by `with_url`
        "patient_id": session.patient_id,
        "connection_id": session.connection_id,
        "recommended_connection_ids": loads(session.recommended_connection_ids),
        "return_url": session.return_url,
        "return_button_label": session.return_button_label,
        "connections": connections.for_session(store, ws_id, session.id),
        "expires_at": iso(session.expires_ms),
        "metadata": loads(session.metadata, {}),
        "created_at": iso(session.created_ms),
    }


def to_api(
    rt: Runtime, ws_id: str, session: Session, gen: naming.Generation | None = None
) -> dict[str, Any]:
    body = render(rt.store, ws_id, session, gen)
    body["url"] = hosted_url(rt, session.token)
    return body


def hosted_url(rt: Runtime, token: str) -> str:
    return f"{rt.base_url}/c/{token}"


def get_row(store: Store, ws_id: str, session_id: str) -> Session:
    row = store.one(
        "SELECT * FROM patient_sessions WHERE workspace_id = ? AND id = ?", (ws_id, session_id)
    )
    if row is None:
        raise not_found("patient session", session_id)
    return Session.from_row(row)


def by_token(store: Store, token: str) -> Session | None:
    return Session.maybe(store.one("SELECT * FROM patient_sessions WHERE token = ?", (token,)))


def recent(store: Store, ws_id: str, limit: int) -> list[Session]:
    """The workspace's newest sessions of every patient, newest first."""
    rows = store.all(
        "SELECT * FROM patient_sessions WHERE workspace_id = ? ORDER BY seq DESC LIMIT ?",
        (ws_id, limit),
    )
    return [Session.from_row(r) for r in rows]


def new_token(rt: Runtime, ws_id: str) -> str:
    """The hosted URL token: 128 bits from the CSPRNG (it is the only key to the page).

    `/c/<token>` is looked up without a workspace, so it must be unique overall.
    """
    token = ids.secret_hex(32)
    while by_token(rt.store, token) is not None:
        token = ids.secret_hex(32)
    return token


def create(
    rt: Runtime, ws_id: str, body: dict[str, Any], gen: naming.Generation = naming.CANONICAL
) -> Session:
    """Validate the references of a PatientSessionInitInput and create the session."""
    direct = body.get("connection_id")
    recommended = body.get("recommended_connection_ids")
    if direct is not None and recommended is not None:
        raise invalid(
            "'connection_id' (Direct mode) and 'recommended_connection_ids' (Picker mode)"
            " cannot be used together",
            "connection_id",
        )
    source_id = None
    if direct is not None:
        source = outside_sources.catalog(rt, ws_id).get(direct)
        if source is None:
            raise not_found("connection", direct, param="connection_id")
        source_id = source.id
    recommended_ids = None
    if recommended is not None:
        recommended_ids = []
        for index, ident in enumerate(recommended):
            source = outside_sources.catalog(rt, ws_id).get(ident)
            if source is None:
                raise not_found("connection", ident, param=f"recommended_connection_ids.{index}")
            if source.id not in recommended_ids:
                recommended_ids.append(source.id)
    check_return_url(body["return_url"])
    patients.check_patient_id(body["patient_id"])
    expires_in = int(body.get("expires_in", DEFAULT_EXPIRES_IN))  # JSON 60.0 is an integer too

    store = rt.store
    with store.tx():
        now = rt.now(ws_id)
        patients.upsert(
            store,
            ws_id,
            seq_factory=lambda: rt.new_id(ws_id, "pat_")[1],
            now_ms=now,
            patient_id=body["patient_id"],
            email=body.get("patient_email"),
            name=body.get("patient_name"),
        )
        session_id, seq = rt.new_id(ws_id, gen.prefix)
        token = new_token(rt, ws_id)
        expires_ms = now + expires_in * SECOND
        store.execute_later(  # travels with the job's scheduling after it
            "INSERT INTO patient_sessions (workspace_id, id, seq, generation, status, token,"
            " patient_id, connection_id, recommended_connection_ids, return_url,"
            " return_button_label, metadata, expires_ms, created_ms)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                ws_id,
                session_id,
                seq,
                gen.name,
                SessionLifecycle.initial_state.value,
                token,
                body["patient_id"],
                source_id,
                None if recommended_ids is None else dumps(recommended_ids),
                body["return_url"],
                body.get("return_button_label"),
                dumps(body.get("metadata") or {}),
                expires_ms,
                now,
            ),
        )
        rt.scheduler.schedule_later(
            ws_id, EXPIRE_JOB, expires_ms, {"session_id": session_id}, key=session_id
        )
        return get_row(store, ws_id, session_id)


def list_page(
    rt: Runtime,
    ws_id: str,
    args: Mapping[str, str],
    *,
    patient_id: str,
    status: str | None = None,
    gen: naming.Generation = naming.CANONICAL,
) -> dict[str, Any]:
    """A page of a patient's sessions, newest first, rendered under generation `gen`."""
    patients.get_row(rt.store, ws_id, patient_id)
    if status is not None and status not in STATUSES:
        listed = ", ".join(f"'{name}'" for name in STATUSES)
        raise invalid(f"'status' must be one of {listed}", "status")
    return pagination.page(
        rt.store,
        "patient_sessions",
        kind=f"sessions.{patient_id}",
        match={"workspace_id": ws_id, "patient_id": patient_id, "status": status},
        args=args,
        render=lambda row: to_api(rt, ws_id, Session.from_row(row), gen),
    )


def set_status(rt: Runtime, ws_id: str, session_id: str, event: str) -> Session:
    """Apply a lifecycle event (`finish`, `expire`) to a session; raises on a bad transition."""
    store = rt.store
    with store.tx():
        session = get_row(store, ws_id, session_id)
        try:
            new_status = transition(SessionLifecycle, session.status, event)
        except TransitionNotAllowed:
            raise ApiError(
                "resource_conflict",
                f"Patient session {session_id} is {session.status}; it cannot {event}",
            ) from None
        now = rt.now(ws_id)
        store.execute(
            "UPDATE patient_sessions SET status = ?, completed_ms = ? WHERE workspace_id = ?"
            " AND id = ?",
            (new_status, now if new_status == "complete" else None, ws_id, session_id),
        )
        if event != "expire":  # the expiry job itself is the one running
            rt.scheduler.cancel(ws_id, kind=EXPIRE_JOB, key=session_id)
        return get_row(store, ws_id, session_id)


# Fired with (rt, ws_id, session id) inside the transaction that expires a session.
EXPIRED = "patient_session.expired"


def expire_job(rt: Runtime, job: Job) -> None:
    ws_id = job.workspace_id
    session_id = job.payload["session_id"]
    with rt.store.tx():
        status = rt.store.scalar(
            "SELECT status FROM patient_sessions WHERE workspace_id = ? AND id = ?",
            (ws_id, session_id),
        )
        if status != "open":  # gone, or no longer open
            return
        set_status(rt, ws_id, session_id, "expire")
        rt.hooks.fire(EXPIRED, rt, ws_id, session_id)

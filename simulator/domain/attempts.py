"""The patient flow: connection attempts, the OAuth callback, completion and the return.

Picker mode: the patient chooses sources on the hosted page; each choice is an
attempt; a completion screen follows each attempt; Done completes the session
and returns to the app. Direct mode: the hosted URL starts the one attempt at
once; its callback completes the session and returns with `success=`.

Tokens live in `connection_tokens` only; no page or API response shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from simulator.clients import smart
from simulator.clients.smart import ClientCredentials, Endpoints, SmartError
from simulator.core import naming, sources
from simulator.core.errors import ApiError
from simulator.core.lifecycle import transition
from simulator.core.sources import Source
from simulator.core.store import Store, dumps, loads
from simulator.core.timeutil import MINUTE, SECOND
from simulator.domain import connections, outside_sources, patients, registrations, sessions
from simulator.domain.connections import Connection, ConnectionLifecycle
from simulator.domain.rows import Row
from simulator.domain.sessions import Session

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth_attempts (
    workspace_id TEXT NOT NULL,
    attempt_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    state TEXT NOT NULL UNIQUE,
    code_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    client_id TEXT NOT NULL,
    token_endpoint TEXT NOT NULL,
    revocation_endpoint TEXT,
    state_expires_ms INTEGER NOT NULL,
    state_used_ms INTEGER,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, attempt_id)
);
CREATE TABLE IF NOT EXISTS connection_tokens (
    workspace_id TEXT NOT NULL,
    attempt_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    access_token TEXT,
    refresh_token TEXT,
    access_expires_ms INTEGER,
    scope TEXT,
    portal_patient TEXT,
    token_endpoint TEXT NOT NULL,
    revocation_endpoint TEXT,
    client_id TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    refresh_count INTEGER NOT NULL DEFAULT 0,
    transient_since_ms INTEGER,
    transient_failures INTEGER NOT NULL DEFAULT 0,
    last_refresh_error TEXT,
    PRIMARY KEY (workspace_id, attempt_id)
);
CREATE TABLE IF NOT EXISTS attempt_discovery (
    workspace_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    fhir_base_url TEXT NOT NULL,
    authorization_endpoint TEXT NOT NULL,
    token_endpoint TEXT NOT NULL,
    revocation_endpoint TEXT,
    registration_endpoint TEXT,
    capabilities TEXT NOT NULL,
    fresh_until_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, source_id)
);
"""
# `attempt_discovery`: the SMART configuration an attempt read last, per source, kept for
# as long as its `Cache-Control: max-age` allows on the workspace's clock (an answer that
# allows none is not kept). This process's own URLs are stored as `{base_url}/…`.

CALLBACK_PATH = "/oauth/callback"
STATE_TTL_MS = 10 * MINUTE

# Direct-mode `error=` for each failure code (anything else: oauth_callback_failed).
DIRECT_ERRORS = {
    "access_denied": "user_denied",
    "oauth_state_expired": "oauth_state_expired",
    "token_exchange_failed": "token_exchange_failed",
}

# Fired with (rt, ws_id, Connection) inside the transaction that activates it.
ACTIVATED = "connection.activated"
# Fired with (rt, ws_id, Connection) inside the transaction that disconnects it.
DISCONNECTED = "connection.disconnected"


@dataclass(frozen=True, slots=True)
class Attempt(Row):
    """A row of `oauth_attempts`: what an attempt keeps for its callback."""

    workspace_id: str
    attempt_id: str
    session_id: str
    patient_id: str
    source_id: str
    state: str
    code_verifier: str
    redirect_uri: str
    client_id: str
    token_endpoint: str
    revocation_endpoint: str | None
    state_expires_ms: int
    state_used_ms: int | None
    created_ms: int


@dataclass(frozen=True, slots=True)
class ConnectionTokens(Row):
    """A row of `connection_tokens`: an attempt's tokens and refresh bookkeeping."""

    workspace_id: str
    attempt_id: str
    patient_id: str
    access_token: str | None
    refresh_token: str | None
    access_expires_ms: int | None
    scope: str | None
    portal_patient: str | None
    token_endpoint: str
    revocation_endpoint: str | None
    client_id: str
    updated_ms: int
    refresh_count: int
    transient_since_ms: int | None
    transient_failures: int
    last_refresh_error: str | None


class FlowError(Exception):
    """The patient cannot go on: `code` names why (for the page shown)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Outcome:
    """Where the browser goes next: a redirect, or a page with a context."""

    redirect: str | None = None
    page: str | None = None
    status: int = 200
    context: dict[str, Any] = field(default_factory=dict)


def callback_url(rt: Runtime) -> str:
    return rt.base_url + CALLBACK_PATH


def merge_query(url: str, params: dict[str, str]) -> str:
    """Add parameters to a URL, keeping the query it already has (ours win on a clash)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query = urlencode(kept + list(params.items()))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def client_for(
    rt: Runtime, ws_id: str, source: Source, registration_endpoint: str | None = None
) -> ClientCredentials:
    """The simulator's app at the source's portal, registered (RFC 7591) on first use.

    Raises SmartError when the portal cannot be reached or refuses the registration.
    """
    return registrations.client_for(rt, ws_id, source, callback_url(rt), registration_endpoint)


def client_of(rt: Runtime, ws_id: str, source: Source, client_id: str) -> ClientCredentials:
    """The client an attempt or its grant belongs to (registered for the base URL of its
    time); the current one when that registration is gone. Raises SmartError."""
    return registrations.issued_to(rt, ws_id, source.id, client_id) or client_for(rt, ws_id, source)


def scope_for(source: Source) -> str:
    return source.scope or smart.DEFAULT_SCOPE


# -- starting an attempt ---------------------------------------------------------------------


def require_open(rt: Runtime, ws_id: str, session: Session) -> None:
    if session.status == "complete":
        raise FlowError("session_complete", "This link has already been used.")
    if session.status == "expired" or rt.now(ws_id) >= session.expires_ms:
        raise FlowError("session_expired", "This link has expired.")


def start_attempt(rt: Runtime, ws_id: str, session: Session, source: Source) -> str:
    """Begin an authorization attempt; answers the portal authorize URL to send the browser to."""
    require_open(rt, ws_id, session)
    timeout = rt.config.http_timeout
    try:
        endpoints = _discovered(rt, ws_id, source, timeout)
    except SmartError as exc:
        raise FlowError(
            "portal_unavailable", f"{source.name} cannot be reached ({exc.code})."
        ) from None
    try:
        client = client_for(rt, ws_id, source, endpoints.registration_endpoint)
    except SmartError as exc:
        raise FlowError(
            "registration_failed", f"{source.name} did not register this app ({exc.code})."
        ) from None
    state = smart.new_state()
    verifier = smart.new_code_verifier()
    with rt.store.tx():
        fresh = sessions.get_row(rt.store, ws_id, session.id)
        require_open(rt, ws_id, fresh)
        now = rt.now(ws_id)
        attempt_id, seq = rt.new_id(ws_id, "att_")
        # the writes nobody reads the answer of travel with the next statement or COMMIT
        rt.store.execute_later(
            "INSERT INTO connections (workspace_id, attempt_id, id, seq, patient_id, session_id,"
            " source_id, status, scopes, created_ms, updated_ms)"
            " VALUES (?,?,NULL,?,?,?,?,?,'[]',?,?)",
            (
                ws_id,
                attempt_id,
                seq,
                fresh.patient_id,
                fresh.id,
                source.id,
                ConnectionLifecycle.initial_state.value,
                now,
                now,
            ),
        )
        connections.record_status(rt.store, connections.by_attempt(rt.store, ws_id, attempt_id))
        rt.store.execute_later(
            "INSERT INTO oauth_attempts (workspace_id, attempt_id, session_id, patient_id,"
            " source_id, state, code_verifier, redirect_uri, client_id, token_endpoint,"
            " revocation_endpoint, state_expires_ms, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                ws_id,
                attempt_id,
                fresh.id,
                fresh.patient_id,
                source.id,
                state,
                verifier,
                callback_url(rt),
                client.client_id,
                sources.portable(endpoints.token_endpoint, rt.base_url),
                sources.portable(endpoints.revocation_endpoint, rt.base_url),
                now + STATE_TTL_MS,
                now,
            ),
        )
    return smart.authorization_url(
        endpoints,
        client,
        redirect_uri=callback_url(rt),
        scope=scope_for(source),
        state=state,
        code_verifier=verifier,
        aud=source.fhir_base_url,
    )


# -- settling an attempt ------------------------------------------------------------------


def _discovered(rt: Runtime, ws_id: str, source: Source, timeout: float) -> Endpoints:
    """The source's SMART configuration: the kept one while fresh, else read from the
    portal (and kept when its answer allows)."""
    now = rt.now(ws_id)
    base = rt.base_url
    fhir_base_url = sources.portable(source.fhir_base_url, base)
    row = rt.store.one(
        "SELECT * FROM attempt_discovery WHERE workspace_id = ? AND source_id = ?"
        " AND fhir_base_url = ? AND fresh_until_ms > ?",
        (ws_id, source.id, fhir_base_url, now),
    )
    if row is not None:
        return Endpoints(
            authorization_endpoint=sources.localized(row["authorization_endpoint"], base) or "",
            token_endpoint=sources.localized(row["token_endpoint"], base) or "",
            revocation_endpoint=sources.localized(row["revocation_endpoint"], base),
            capabilities=tuple(loads(row["capabilities"], [])),
            registration_endpoint=sources.localized(row["registration_endpoint"], base),
        )
    endpoints, max_age = smart.discover_with_max_age(rt.http, source.fhir_base_url, timeout)
    if max_age:
        with rt.store.tx():
            rt.store.execute(
                "INSERT INTO attempt_discovery (workspace_id, source_id, fhir_base_url,"
                " authorization_endpoint, token_endpoint, revocation_endpoint,"
                " registration_endpoint, capabilities, fresh_until_ms)"
                " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (workspace_id, source_id) DO UPDATE SET"
                " fhir_base_url = excluded.fhir_base_url,"
                " authorization_endpoint = excluded.authorization_endpoint,"
                " token_endpoint = excluded.token_endpoint,"
                " revocation_endpoint = excluded.revocation_endpoint,"
                " registration_endpoint = excluded.registration_endpoint,"
                " capabilities = excluded.capabilities, fresh_until_ms = excluded.fresh_until_ms",
                (
                    ws_id,
                    source.id,
                    fhir_base_url,
                    sources.portable(endpoints.authorization_endpoint, base),
                    sources.portable(endpoints.token_endpoint, base),
                    sources.portable(endpoints.revocation_endpoint, base),
                    sources.portable(endpoints.registration_endpoint, base),
                    dumps(list(endpoints.capabilities)),
                    now + max_age * SECOND,
                ),
            )
    return endpoints


def endpoints_of(rt: Runtime, row: Attempt | ConnectionTokens) -> Endpoints:
    """The token and revocation endpoints stored with an attempt or its tokens (this
    process's own portals are stored as `{base_url}/…` and found where it serves now)."""
    token = sources.localized(row.token_endpoint, rt.base_url)
    assert token is not None
    return Endpoints("", token, sources.localized(row.revocation_endpoint, rt.base_url), ())


def move(rt: Runtime, ws_id: str, attempt_id: str, event: str, **fields: Any) -> Connection:
    """Apply a ConnectionLifecycle event to an attempt and set extra columns."""
    with rt.store.tx():  # the status and its history entry together
        conn = connections.by_attempt(rt.store, ws_id, attempt_id)
        status = transition(ConnectionLifecycle, conn.status, event)
        now = rt.now(ws_id)
        columns = {"status": status, "updated_ms": now, **fields}
        assignments = ", ".join(f"{name} = ?" for name in columns)
        rt.store.execute_later(  # travels with the read after it
            f"UPDATE connections SET {assignments} WHERE workspace_id = ? AND attempt_id = ?",
            (*columns.values(), ws_id, attempt_id),
        )
        moved = connections.by_attempt(rt.store, ws_id, attempt_id)
        connections.record_status(rt.store, moved)
    return moved


def fail_attempt(rt: Runtime, ws_id: str, attempt_id: str, code: str) -> Connection:
    with rt.store.tx():
        return move(rt, ws_id, attempt_id, "fail", failure_code=code, failure_ms=rt.now(ws_id))


def _activate(rt: Runtime, ws_id: str, attempt: Attempt, token: dict[str, Any]) -> Connection:
    now = rt.now(ws_id)
    conn_id, _ = rt.new_id(ws_id, "conn_")
    scopes = str(token.get("scope") or "").split()
    conn = move(rt, ws_id, attempt.attempt_id, "activate", id=conn_id, scopes=dumps(scopes))
    expires_in = token.get("expires_in")
    rt.store.execute_later(  # travels with the statement after it
        "INSERT INTO connection_tokens (workspace_id, attempt_id, patient_id,"
        " access_token, refresh_token, access_expires_ms, scope, portal_patient, token_endpoint,"
        " revocation_endpoint, client_id, updated_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            ws_id,
            attempt.attempt_id,
            attempt.patient_id,
            token["access_token"],
            token.get("refresh_token"),
            None if expires_in is None else now + int(float(expires_in) * SECOND),
            token.get("scope"),
            None if token.get("patient") is None else str(token.get("patient")),
            attempt.token_endpoint,
            attempt.revocation_endpoint,
            attempt.client_id,
            now,
        ),
    )
    rt.hooks.fire(ACTIVATED, rt, ws_id, conn)
    return conn


def by_state(store: Store, state: str) -> Attempt | None:
    """The attempt a callback's `state` belongs to, in any workspace."""
    return Attempt.maybe(store.one("SELECT * FROM oauth_attempts WHERE state = ?", (state,)))


def handle_callback(rt: Runtime, args: dict[str, str]) -> Outcome:
    """The portal sent the browser back: settle the attempt and say where to go next."""
    attempt = by_state(rt.store, args.get("state") or "")
    if attempt is None:
        return Outcome(
            page="error",
            status=400,
            context={
                "code": "oauth_state_expired",
                "message": "This sign-in response does not match any sign-in in progress.",
            },
        )
    ws_id = attempt.workspace_id
    attempt_id = attempt.attempt_id
    session = sessions.get_row(rt.store, ws_id, attempt.session_id)

    def fail(code: str, description: str | None = None) -> Outcome:
        fail_attempt(rt, ws_id, attempt_id, code)
        return after_attempt(rt, ws_id, attempt.session_id, attempt_id, description)

    with rt.store.tx():
        now = rt.now(ws_id)
        current = connections.by_attempt(rt.store, ws_id, attempt_id)
        # Claim the state in the same statement that checks it: of two callbacks
        # racing with one state, exactly one gets the row back.
        claimed = rt.store.one(
            "UPDATE oauth_attempts SET state_used_ms = ? WHERE workspace_id = ? AND attempt_id = ?"
            " AND state_used_ms IS NULL RETURNING attempt_id",
            (now, ws_id, attempt_id),
        )
        if claimed is None or current is None or current.status != "pending":
            if current is not None and current.status == "expired":
                return closed_outcome(rt, session)
            return Outcome(
                page="error",
                status=400,
                context={
                    "code": "oauth_state_expired",
                    "message": "This sign-in response was already used.",
                    "session_url": sessions.hosted_url(rt, session.token)
                    if session.status == "open"
                    else None,
                },
            )
        if session.status != "open" or now >= session.expires_ms:
            return closed_outcome(rt, session)
        if now >= attempt.state_expires_ms:
            return fail("oauth_state_expired")
        if args.get("error"):
            return fail(args["error"], args.get("error_description"))
        if not args.get("code"):
            return fail("oauth_callback_failed", "The portal returned neither a code nor an error.")

    source = outside_sources.source(rt, ws_id, attempt.source_id)
    assert source is not None
    endpoints = endpoints_of(rt, attempt)
    try:
        token = smart.exchange_code(
            rt.http,
            endpoints,
            client_of(rt, ws_id, source, attempt.client_id),
            code=args["code"],
            redirect_uri=attempt.redirect_uri,
            code_verifier=attempt.code_verifier,
            timeout=rt.config.http_timeout,
        )
    except SmartError as exc:
        return fail("token_exchange_failed", f"The portal refused the code exchange ({exc.code}).")

    with rt.store.tx():
        session = sessions.get_row(rt.store, ws_id, session.id)
        current = connections.by_attempt(rt.store, ws_id, attempt_id)
        if session.status != "open" or current.status != "pending":
            activated = None
        else:
            activated = _activate(rt, ws_id, attempt, token)
            older = connections.superseded(rt.store, ws_id, activated)
    if activated is None:
        # The session expired while the code was being exchanged: the grant is not kept.
        revoke_at_portal(rt, ws_id, source.id, endpoints, token, attempt.client_id)
        return closed_outcome(rt, session)
    for conn in older:
        disconnect(rt, ws_id, conn)
    return after_attempt(rt, ws_id, session.id, attempt_id)


def after_attempt(
    rt: Runtime, ws_id: str, session_id: str, attempt_id: str, description: str | None = None
) -> Outcome:
    """Picker: the completion screen. Direct: complete the session and return to the app."""
    session = sessions.get_row(rt.store, ws_id, session_id)
    if session.connection_id is None:
        return Outcome(redirect=sessions.hosted_url(rt, session.token) + "/complete")
    conn = connections.by_attempt(rt.store, ws_id, attempt_id)
    session = complete(rt, ws_id, session_id)
    params = return_params(session)
    if conn.status == "active":
        params.update(success="true", connection_id=conn.source_id)
    else:
        code = conn.failure_code or "oauth_callback_failed"
        error = DIRECT_ERRORS.get(code, "oauth_callback_failed")
        params.update(success="false", error=error)
        detail = description
        if error == "oauth_callback_failed" and code != error:
            detail = f"{code}: {description}" if description else code
        if detail:
            params["error_description"] = detail
    return Outcome(redirect=merge_query(session.return_url, params))


def closed_outcome(rt: Runtime, session: Session) -> Outcome:
    code = "session_complete" if session.status == "complete" else "session_expired"
    return Outcome(page="closed", status=410, context={"code": code, "session": session})


# -- completion, expiry, disconnect ----------------------------------------------------------


def complete(rt: Runtime, ws_id: str, session_id: str) -> Session:
    """Mark the session complete and record `patient_session.completed` (or its B name)."""
    from simulator.domain.webhooks import publish

    with rt.store.tx():
        session = sessions.set_status(rt, ws_id, session_id, "finish")
        publish.emit(rt, ws_id, naming.SESSION_COMPLETED, sessions.to_api(rt, ws_id, session))
        return session


def return_params(session: Session) -> dict[str, str]:
    """`patient_id` and the session id under its generation's name (`patient_session_id`, …)."""
    gen = naming.generation(session.generation)
    return {"patient_id": session.patient_id, gen.return_param: session.id}


def return_url(rt: Runtime, ws_id: str, session: Session) -> str:
    """Where Done sends the patient in Picker mode."""
    return merge_query(session.return_url, return_params(session))


def finish_picker(rt: Runtime, ws_id: str, session: Session) -> str:
    require_open(rt, ws_id, session)
    return return_url(rt, ws_id, complete(rt, ws_id, session.id))


def expire_in_flight(rt: Runtime, ws_id: str, session_id: str) -> None:
    """Session expiry hook: attempts still at the portal can no longer activate."""
    for attempt_id in connections.pending_in_session(rt.store, ws_id, session_id):
        move(rt, ws_id, attempt_id, "abandon")


def revoke_at_portal(
    rt: Runtime,
    ws_id: str,
    source_id: str,
    endpoints: Endpoints,
    token: Mapping[str, Any],
    client_id: str,
) -> bool:
    """RFC 7009 at the source's portal: the refresh token when there is one (the portal then
    ends the whole grant), else the access token. True when the portal accepted it."""
    value = token.get("refresh_token") or token.get("access_token")
    source = outside_sources.source(rt, ws_id, source_id)
    if not value or source is None:
        return False
    hint = "refresh_token" if token.get("refresh_token") else "access_token"
    try:
        client = client_of(rt, ws_id, source, client_id)
    except SmartError:
        return False
    return smart.revoke(
        rt.http,
        endpoints,
        client,
        token=value,
        token_type_hint=hint,
        timeout=rt.config.http_timeout,
    )


def tokens_of(rt: Runtime, ws_id: str, attempt_id: str) -> ConnectionTokens | None:
    return ConnectionTokens.maybe(
        rt.store.one(
            "SELECT * FROM connection_tokens WHERE workspace_id = ? AND attempt_id = ?",
            (ws_id, attempt_id),
        )
    )


def tokens_with_connection(
    rt: Runtime, ws_id: str, attempt_id: str
) -> tuple[ConnectionTokens, str, str] | None:
    """The attempt's tokens with its connection's status and source, in one read (what a
    refresh asks first); None when either is missing."""
    row = rt.store.one(
        "SELECT t.*, c.status AS connection_status, c.source_id AS connection_source"
        " FROM connection_tokens t JOIN connections c"
        " ON c.workspace_id = t.workspace_id AND c.attempt_id = t.attempt_id"
        " WHERE t.workspace_id = ? AND t.attempt_id = ?",
        (ws_id, attempt_id),
    )
    if row is None:
        return None
    names, values = row.keys(), tuple(row)  # the connection's two columns come last
    return ConnectionTokens.from_columns(names[:-2], values[:-2]), values[-2], values[-1]


def clear_tokens(rt: Runtime, ws_id: str, attempt_id: str) -> None:
    rt.store.execute(
        "UPDATE connection_tokens SET access_token = NULL, refresh_token = NULL,"
        " access_expires_ms = NULL, updated_ms = ? WHERE workspace_id = ? AND attempt_id = ?",
        (rt.now(ws_id), ws_id, attempt_id),
    )


def disconnect(rt: Runtime, ws_id: str, conn: Connection) -> Connection:
    """The org revokes access: revoke the grant at the portal, clear tokens, `disconnected`."""
    tokens = tokens_of(rt, ws_id, conn.attempt_id)
    if tokens is not None:
        held = {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token}
        endpoints = endpoints_of(rt, tokens)
        revoke_at_portal(rt, ws_id, conn.source_id, endpoints, held, tokens.client_id)
    with rt.store.tx():
        moved = move(rt, ws_id, conn.attempt_id, "disconnect")
        clear_tokens(rt, ws_id, conn.attempt_id)
        rt.hooks.fire(DISCONNECTED, rt, ws_id, moved)
        return moved


def disconnect_by_id(rt: Runtime, ws_id: str, patient_id: str, conn_id: str) -> Connection:
    """Disconnect the patient's connection `conn_id`; 404 if unknown, 409 if already done."""
    patients.get_row(rt.store, ws_id, patient_id)
    conn = connections.get(rt.store, ws_id, conn_id, patient_id=patient_id)
    if conn.status == "disconnected":
        raise ApiError("resource_conflict", f"Connection {conn_id} is already disconnected")
    return disconnect(rt, ws_id, conn)

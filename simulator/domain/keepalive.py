"""Keeping access alive: refresh ahead of expiry, refresh on demand, refresh failure, lapse.

An active connection with a refresh token gets a refresh job due `lead` before
its access token expires (half the lifetime when that is shorter). A portal
that rejects the refresh ends the connection as `refresh_failed`: tokens are
cleared, its jobs are cancelled and `connection.token_refresh_failed` is
emitted. Transient failures (5xx, 429, timeouts) retry with backoff and change
nothing. A grant without a refresh token ends as `expired` when its access
token runs out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simulator.clients import smart
from simulator.clients.smart import ClientCredentials, SmartError
from simulator.core.timeutil import HOUR, MINUTE, SECOND
from simulator.domain import attempts, connections, outside_sources
from simulator.domain.attempts import ConnectionTokens
from simulator.domain.connections import Connection
from simulator.domain.webhooks import publish

if TYPE_CHECKING:
    from simulator.core.jobs import Job
    from simulator.core.runtime import Runtime

REFRESH_JOB = "connection.refresh"
LAPSE_JOB = "connection.lapse"
ACTIVE = connections.ConnectionLifecycle.active.value
# Backoff for transient refresh failures; the last value repeats.
RETRY_BACKOFF_MS = (30 * SECOND, MINUTE, 2 * MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR)
# Transient failures for this long in a row count as a rejected refresh.
GIVE_UP_AFTER_MS = 24 * HOUR


def job_key(attempt_id: str) -> str:
    return f"keepalive:{attempt_id}"


def needs_refresh(rt: Runtime, tokens: ConnectionTokens) -> bool:
    """True when the access token is due for a refresh now (and can be refreshed)."""
    due = refresh_due_ms(rt, tokens)
    return bool(tokens.refresh_token) and due is not None and rt.now(tokens.workspace_id) >= due


def refresh_due_ms(rt: Runtime, tokens: ConnectionTokens) -> int | None:
    expires = tokens.access_expires_ms
    if expires is None:
        return None
    lifetime = max(0, expires - tokens.updated_ms)
    lead = min(rt.config.refresh_lead_s * SECOND, lifetime // 2)
    return expires - lead


def _refresh_payload(attempt_id: str, tokens: ConnectionTokens) -> dict[str, Any]:
    """A refresh job names the refresh count it follows: run again after a crash that
    came once its refresh was stored, it finds the count moved on and does nothing."""
    return {"attempt_id": attempt_id, "after": tokens.refresh_count}


def schedule_keepalive(
    rt: Runtime, ws_id: str, attempt_id: str, tokens: ConnectionTokens | None = None
) -> None:
    """(Re)schedule the refresh, or the lapse of a grant that cannot be refreshed.

    `tokens` are the connection's tokens when the caller has just written them.
    """
    rt.scheduler.cancel(ws_id, key=job_key(attempt_id), count=False)
    if tokens is None:
        tokens = attempts.tokens_of(rt, ws_id, attempt_id)
    if tokens is None or tokens.access_expires_ms is None:
        return
    if tokens.refresh_token:
        if rt.config.refresh_policy == "on_demand":
            return  # the next pull refreshes when it needs the token
        due = refresh_due_ms(rt, tokens)
        rt.scheduler.schedule_later(
            ws_id, REFRESH_JOB, due, _refresh_payload(attempt_id, tokens), key=job_key(attempt_id)
        )
    else:
        rt.scheduler.schedule_later(
            ws_id,
            LAPSE_JOB,
            tokens.access_expires_ms,
            {"attempt_id": attempt_id},
            key=job_key(attempt_id),
        )


def _client(rt: Runtime, ws_id: str, source_id: str, client_id: str) -> ClientCredentials:
    source = outside_sources.source(rt, ws_id, source_id)
    assert source is not None
    return attempts.client_of(rt, ws_id, source, client_id)


def refresh_now(
    rt: Runtime,
    ws_id: str,
    attempt_id: str,
    after: int | None = None,
    keep: Callable[[Callable[[], None]], None] | None = None,
) -> str:
    """Refresh the access token now. Answers `ok`, `failed`, `transient` or `inactive`.

    `after`: the refresh count the caller's job followed; a count already past it means
    that refresh was made (and its job recovered after a crash): `ok`, nothing sent.
    `keep`: what stores the new tokens (given the write; None: written now), for a
    caller that reads nothing after: the refresh job hands them to the job's end.
    """
    found = attempts.tokens_with_connection(rt, ws_id, attempt_id)
    if found is None or found[1] != ACTIVE:
        return "inactive"
    tokens, _, source_id = found
    if after is not None and tokens.refresh_count != after:
        return "ok"
    if not tokens.refresh_token:
        return "failed"
    endpoints = attempts.endpoints_of(rt, tokens)
    try:
        token = smart.refresh(
            rt.http,
            endpoints,
            _client(rt, ws_id, source_id, tokens.client_id),
            refresh_token=tokens.refresh_token,
            timeout=rt.config.http_timeout,
        )
    except SmartError as exc:
        if exc.transient:
            return _transient(rt, ws_id, attempt_id, exc)
        refresh_failed(rt, ws_id, attempt_id, exc.code)
        return "failed"
    if keep is None:
        _store_refreshed(rt, ws_id, attempt_id, token)
    else:
        keep(lambda: _store_refreshed(rt, ws_id, attempt_id, token))
    return "ok"


def revoke_and_refresh(rt: Runtime, ws_id: str, conn: Connection) -> str:
    """The connection's grant ends at the portal now, then a refresh is tried (and rejected).

    The revocation is RFC 7009 with the refresh token, which ends the whole grant.
    Answers what `refresh_now` answers.
    """
    tokens = attempts.tokens_of(rt, ws_id, conn.attempt_id)
    if tokens is not None:
        attempts.revoke_at_portal(
            rt,
            ws_id,
            conn.source_id,
            attempts.endpoints_of(rt, tokens),
            {"refresh_token": tokens.refresh_token},
            tokens.client_id,
        )
    return refresh_now(rt, ws_id, conn.attempt_id)


def _store_refreshed(rt: Runtime, ws_id: str, attempt_id: str, token: dict[str, Any]) -> None:
    with rt.store.tx():
        now = rt.now(ws_id)
        expires_in = token.get("expires_in")
        # Kept only while the connection is still active (not disconnected meanwhile).
        row = rt.store.one(
            "UPDATE connection_tokens SET access_token = ?, refresh_token = ?,"
            " access_expires_ms = ?, scope = COALESCE(?, scope), updated_ms = ?,"
            " refresh_count = refresh_count + 1, transient_since_ms = NULL, transient_failures = 0"
            " WHERE workspace_id = ? AND attempt_id = ? AND EXISTS (SELECT 1 FROM connections c"
            " WHERE c.workspace_id = ? AND c.attempt_id = ? AND c.status = ?) RETURNING *",
            (
                token["access_token"],
                token.get("refresh_token"),
                None if expires_in is None else now + int(float(expires_in) * SECOND),
                token.get("scope"),
                now,
                ws_id,
                attempt_id,
                ws_id,
                attempt_id,
                ACTIVE,
            ),
        )
        if row is None:
            return  # disconnected meanwhile: the new tokens are not kept
        schedule_keepalive(rt, ws_id, attempt_id, ConnectionTokens.maybe(row))


def _transient(rt: Runtime, ws_id: str, attempt_id: str, exc: SmartError) -> str:
    with rt.store.tx():
        tokens = attempts.tokens_of(rt, ws_id, attempt_id)
        now = rt.now(ws_id)
        since = tokens.transient_since_ms or now
        failures = int(tokens.transient_failures or 0) + 1
        if now - since >= GIVE_UP_AFTER_MS:
            refresh_failed(rt, ws_id, attempt_id, "refresh_unavailable")
            return "failed"
        rt.store.execute(
            "UPDATE connection_tokens SET transient_since_ms = ?, transient_failures = ?,"
            " last_refresh_error = ? WHERE workspace_id = ? AND attempt_id = ?",
            (since, failures, exc.code, ws_id, attempt_id),
        )
        delay = RETRY_BACKOFF_MS[min(failures, len(RETRY_BACKOFF_MS)) - 1]
        rt.scheduler.cancel(ws_id, key=job_key(attempt_id), count=False)
        rt.scheduler.schedule_later(
            ws_id,
            REFRESH_JOB,
            now + delay,
            _refresh_payload(attempt_id, tokens),
            key=job_key(attempt_id),
        )
    return "transient"


# Fired with (rt, ws_id, Connection) when access ends (refresh failed, lapsed).
ACCESS_LOST = "connection.access_lost"


def refresh_failed(rt: Runtime, ws_id: str, attempt_id: str, code: str) -> None:
    """The portal rejected the refresh: `refresh_failed`, tokens cleared, one event."""
    with rt.store.tx():
        conn = connections.by_attempt(rt.store, ws_id, attempt_id)
        if conn is None or conn.status != "active":
            return
        moved = attempts.move(
            rt, ws_id, attempt_id, "refresh_fail", failure_code=code, failure_ms=rt.now(ws_id)
        )
        attempts.clear_tokens(rt, ws_id, attempt_id)
        rt.scheduler.cancel(ws_id, key=job_key(attempt_id), count=False)
        rt.hooks.fire(ACCESS_LOST, rt, ws_id, moved)
        publish.emit(rt, ws_id, "connection.token_refresh_failed", connections.session_item(moved))


def lapse(rt: Runtime, ws_id: str, attempt_id: str) -> None:
    """A grant without a refresh token ran out: the connection is `expired`."""
    with rt.store.tx():
        conn = connections.by_attempt(rt.store, ws_id, attempt_id)
        if conn is None or conn.status != "active":
            return
        moved = attempts.move(
            rt, ws_id, attempt_id, "lapse", failure_code="access_expired", failure_ms=rt.now(ws_id)
        )
        attempts.clear_tokens(rt, ws_id, attempt_id)
        rt.hooks.fire(ACCESS_LOST, rt, ws_id, moved)


def refresh_job(rt: Runtime, job: Job) -> None:
    """The refresh; its tokens are written with the job's end (one transaction)."""
    refresh_now(
        rt,
        job.workspace_id,
        job.payload["attempt_id"],
        job.payload.get("after"),
        keep=rt.scheduler.finish_with,
    )


def lapse_job(rt: Runtime, job: Job) -> None:
    lapse(rt, job.workspace_id, job.payload["attempt_id"])


def on_activate(rt: Runtime, ws_id: str, conn: Connection) -> None:
    """A connection became active: keep its access alive from now on."""
    schedule_keepalive(rt, ws_id, conn.attempt_id)


def on_disconnect(rt: Runtime, ws_id: str, conn: Connection) -> None:
    """A connection was disconnected: no more refreshes."""
    rt.scheduler.cancel(ws_id, key=job_key(conn.attempt_id))

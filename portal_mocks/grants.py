"""Grants, authorization codes and tokens at the portals (plain domain, no Flask).

A grant row is born at the authorize request and follows `GrantLifecycle`.
Its id is the pending-authorization handle carried by the login and consent
forms.

Every instant is on the owning workspace's virtual clock: a code expires
`code_ttl_s` after it is issued, an access token `expires_in` seconds after
it is issued (it is expired at exactly that instant), a refresh token at its
own `expires_ms`.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from statemachine import State, StateMachine

from portal_mocks import faults
from simulator.core.lifecycle import transition
from simulator.core.store import dumps, field_positions, loads_strings, row_dict

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS portal_grants (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    slug TEXT NOT NULL,
    client_id TEXT NOT NULL,
    status TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    requested_scope TEXT NOT NULL,
    granted_scope TEXT,
    aud TEXT,
    state TEXT,
    code_challenge TEXT NOT NULL,
    nonce TEXT,
    username TEXT,
    persona TEXT,
    fhir_patient_id TEXT,
    one_time INTEGER NOT NULL DEFAULT 0,
    login_expires_ms INTEGER NOT NULL,
    code TEXT UNIQUE,
    code_expires_ms INTEGER,
    code_used_ms INTEGER,
    activated_ms INTEGER,
    grant_expires_ms INTEGER,
    refresh_count INTEGER NOT NULL DEFAULT 0,
    refresh_revoked_ms INTEGER,
    refresh_revoked_reason TEXT,
    revoked_ms INTEGER,
    revoked_reason TEXT,
    error TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_grants_ws ON portal_grants (workspace_id, slug, seq);
CREATE INDEX IF NOT EXISTS portal_grants_ws_seq ON portal_grants (workspace_id, seq);
CREATE TABLE IF NOT EXISTS portal_tokens (
    token TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    slug TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    revoked_ms INTEGER,
    revoked_reason TEXT,
    sim_error TEXT
);
CREATE INDEX IF NOT EXISTS portal_tokens_grant ON portal_tokens (grant_id, kind);
"""

ACCESS = "access"
REFRESH = "refresh"


class GrantLifecycle(StateMachine):
    """A grant: login -> consent -> code -> active; it ends denied, failed or revoked.

    The login form moves it to `consent`; approving issues a code (`code`),
    denying ends it `denied`, and a simulated authorize fault ends it `failed`.
    Exchanging the code activates it. An issued code or an active grant can be
    revoked (a replayed code, the client, the patient).
    """

    login = State(initial=True)
    consent = State()
    code = State()
    active = State()
    denied = State(final=True)
    failed = State(final=True)
    revoked = State(final=True)

    sign_in = login.to(consent)
    approve = consent.to(code)
    deny = consent.to(denied)
    fail = consent.to(failed)
    activate = code.to(active)
    revoke = code.to(revoked) | active.to(revoked)


@dataclass(frozen=True)
class Grant:
    id: str
    workspace_id: str
    seq: int
    slug: str
    client_id: str
    status: str
    redirect_uri: str
    requested_scope: list[str]
    granted_scope: list[str]
    aud: str | None
    state: str | None
    code_challenge: str
    nonce: str | None
    username: str | None
    persona: str | None
    fhir_patient_id: str | None
    one_time: bool
    login_expires_ms: int
    code: str | None
    code_expires_ms: int | None
    code_used_ms: int | None
    activated_ms: int | None
    grant_expires_ms: int | None
    refresh_count: int
    refresh_revoked_ms: int | None
    refresh_revoked_reason: str | None
    revoked_ms: int | None
    revoked_reason: str | None
    error: str | None
    created_ms: int


@dataclass(frozen=True)
class Token:
    token: str
    workspace_id: str
    slug: str
    grant_id: str
    kind: str
    scope: list[str]
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None
    revoked_reason: str | None
    sim_error: str | None

    def expired(self, now_ms: int) -> bool:
        return self.expires_ms is not None and now_ms >= self.expires_ms


def _grant(row: Any) -> Grant:
    return _grant_of(row_dict(row))


def _grant_of(data: dict[str, Any]) -> Grant:
    """The Grant of a portal_grants row's columns (as a dict; consumed)."""
    data["requested_scope"] = loads_strings(data["requested_scope"])
    data["granted_scope"] = loads_strings(data["granted_scope"])
    data["one_time"] = bool(data["one_time"])
    data.pop("updated_ms")
    return Grant(**data)


def _token(row: Any) -> Token:
    data = row_dict(row)
    data["scope"] = loads_strings(data["scope"])
    return Token(**data)


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def get(rt: Runtime, grant_id: str | None) -> Grant | None:
    if not grant_id:
        return None
    row = rt.store.one("SELECT * FROM portal_grants WHERE id = ?", (grant_id,))
    return None if row is None else _grant(row)


def start(
    rt: Runtime,
    *,
    ws_id: str,
    slug: str,
    client_id: str,
    redirect_uri: str,
    scope: list[str],
    aud: str | None,
    state: str | None,
    code_challenge: str,
    nonce: str | None,
    login_ttl_s: int,
) -> Grant:
    """A pending authorization (the patient has not signed in yet)."""
    now = rt.now(ws_id)
    grant_id = new_secret(24)
    # The next seq of the workspace is read inside the INSERT (the (workspace_id, seq)
    # index makes MAX a single index probe, however many grants there are) and the new
    # row comes back by RETURNING: one statement (atomic alone: no transaction around it).
    row = rt.store.one(
        "INSERT INTO portal_grants (id, workspace_id, seq, slug, client_id, status,"
        " redirect_uri, requested_scope, aud, state, code_challenge, nonce,"
        " login_expires_ms, created_ms, updated_ms)"
        " SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?,?,?,?,?,?,?,?,?,?,?,?"
        " FROM portal_grants WHERE workspace_id = ? RETURNING *",
        (
            grant_id,
            ws_id,
            slug,
            client_id,
            GrantLifecycle.initial_state.value,
            redirect_uri,
            dumps(scope),
            aud,
            state,
            code_challenge,
            nonce,
            now + login_ttl_s * 1000,
            now,
            now,
            ws_id,
        ),
    )
    assert row is not None
    return _grant(row)


def update(rt: Runtime, grant: Grant, *, at_ms: int | None = None, **fields: Any) -> Grant:
    """Set columns of a grant; `updated_ms` is `at_ms` (the caller's instant) or now."""
    if "granted_scope" in fields:
        fields["granted_scope"] = dumps(fields["granted_scope"])
    if "one_time" in fields:
        fields["one_time"] = int(bool(fields["one_time"]))
    fields["updated_ms"] = at_ms if at_ms is not None else rt.now(grant.workspace_id)
    assignments = ", ".join(f"{k} = ?" for k in fields)
    with rt.store.tx():
        row = rt.store.one(
            f"UPDATE portal_grants SET {assignments} WHERE id = ? RETURNING *",
            (*fields.values(), grant.id),
        )
    assert row is not None
    return _grant(row)


def move(
    rt: Runtime,
    grant: Grant,
    event: str,
    *,
    at_ms: int | None = None,
    current: str | None = None,
    **fields: Any,
) -> Grant:
    """Apply a GrantLifecycle event to a grant (raises on a bad move) and set other columns.
    `current`: the grant's status as the caller's open transaction read or wrote it (not
    read again)."""
    with rt.store.tx():
        if current is None:
            current = rt.store.scalar("SELECT status FROM portal_grants WHERE id = ?", (grant.id,))
        status = transition(GrantLifecycle, current, event)
        return update(rt, grant, at_ms=at_ms, status=status, **fields)


def by_code(rt: Runtime, slug: str, code: str) -> tuple[Grant, bool] | None:
    """The grant `code` was issued for at `slug`, and whether its workspace holds any fault
    at the portal (`faults.ANY_SQL`, read with it: no fault query when there is none)."""
    row = rt.store.one(
        "SELECT g.*, "
        + faults.ANY_SQL.format(ws="g.workspace_id", slug="g.slug")
        + " AS faulted FROM portal_grants g WHERE g.code = ? AND g.slug = ?",
        (code, slug),
    )
    if row is None:
        return None
    data = row_dict(row)
    faulted = bool(data.pop("faulted"))
    return _grant_of(data), faulted


def issue_code(rt: Runtime, grant: Grant, granted: list[str], code_ttl_s: int) -> Grant:
    now = rt.now(grant.workspace_id)
    return move(
        rt,
        grant,
        "approve",
        granted_scope=granted,
        code=new_secret(32),
        code_expires_ms=now + code_ttl_s * 1000,
    )


def spend_code(rt: Runtime, grant: Grant, at_ms: int | None = None) -> str | None:
    """Mark the code used (at `at_ms`, else now): the grant's status as it was spent, or
    None when the code had been used already."""
    now = at_ms if at_ms is not None else rt.now(grant.workspace_id)
    with rt.store.tx():
        return rt.store.scalar(
            "UPDATE portal_grants SET code_used_ms = ?, updated_ms = ? WHERE id = ?"
            " AND code_used_ms IS NULL RETURNING status",
            (now, now, grant.id),
        )


# -- tokens ---------------------------------------------------------------------


@dataclass(frozen=True)
class NewToken:
    """A token to add to a grant: its kind, scope, expiry and simulated error."""

    kind: str
    scope: list[str]
    expires_ms: int | None
    sim_error: str | None = None


def add_tokens(
    rt: Runtime, grant: Grant, wanted: Sequence[NewToken], at_ms: int | None = None
) -> list[Token]:
    """New tokens of the grant (in `wanted`'s order), created at `at_ms` (the caller's
    instant) or now, in one statement."""
    now = at_ms if at_ms is not None else rt.now(grant.workspace_id)
    values = [
        (
            new_secret(32),
            grant.workspace_id,
            grant.slug,
            grant.id,
            new.kind,
            dumps(new.scope),
            now,
            new.expires_ms,
            new.sim_error,
        )
        for new in wanted
    ]
    with rt.store.tx():  # the tokens are built here: the INSERT may travel later
        rt.store.execute_later(
            "INSERT INTO portal_tokens (token, workspace_id, slug, grant_id, kind, scope,"
            " created_ms, expires_ms, sim_error) VALUES "
            + ",".join(["(?,?,?,?,?,?,?,?,?)"] * len(values)),
            tuple(v for row in values for v in row),
        )
    return [
        Token(
            token=row[0],
            workspace_id=grant.workspace_id,
            slug=grant.slug,
            grant_id=grant.id,
            kind=new.kind,
            scope=list(new.scope),
            created_ms=now,
            expires_ms=new.expires_ms,
            revoked_ms=None,
            revoked_reason=None,
            sim_error=new.sim_error,
        )
        for row, new in zip(values, wanted, strict=True)
    ]


def add_token(
    rt: Runtime,
    grant: Grant,
    kind: str,
    scope: list[str],
    expires_ms: int | None,
    sim_error: str | None = None,
    at_ms: int | None = None,
) -> Token:
    """A new token of the grant, created at `at_ms` (the caller's instant) or now."""
    return add_tokens(rt, grant, [NewToken(kind, scope, expires_ms, sim_error)], at_ms)[0]


def lookup(rt: Runtime, slug: str, token: str | None) -> Token | None:
    if not token:
        return None
    row = rt.store.one("SELECT * FROM portal_tokens WHERE token = ? AND slug = ?", (token, slug))
    return None if row is None else _token(row)


class Found(NamedTuple):
    """A presented token, its grant, and whether the portal has any fault stored for the
    token's workspace (when not, a request's fault plan needs no query)."""

    token: Token | None
    grant: Grant | None
    faulted: bool = True


def lookup_with_grant(rt: Runtime, slug: str, token: str | None) -> Found:
    """`lookup` and the token's grant (`get`), in one query."""
    return lookup_with_grant_soon(rt, slug, token)()


def lookup_with_grant_soon(rt: Runtime, slug: str, token: str | None) -> Callable[[], Found]:
    """`lookup_with_grant`, read with the next statement that needs an answer
    (`Store.one_soon`): call the answer for what was found."""
    if not token:
        return lambda: Found(None, None)
    soon = rt.store.one_soon(
        "SELECT t.*, g.*, "
        + faults.ANY_SQL.format(ws="t.workspace_id", slug="t.slug")
        + " AS faulted FROM portal_tokens t LEFT JOIN portal_grants g ON g.id = t.grant_id"
        " WHERE t.token = ? AND t.slug = ?",
        (token, slug),
    )
    return lambda: _found(soon.get())


_TOKEN_FIELDS = tuple(f.name for f in dataclasses.fields(Token))
_GRANT_FIELDS = tuple(f.name for f in dataclasses.fields(Grant))
_TOKEN_SCOPE = _TOKEN_FIELDS.index("scope")
_GRANT_LISTS = (_GRANT_FIELDS.index("requested_scope"), _GRANT_FIELDS.index("granted_scope"))
_GRANT_ONE_TIME = _GRANT_FIELDS.index("one_time")
_GRANT_ID = _GRANT_FIELDS.index("id")


@functools.lru_cache(maxsize=8)
def _layout(names: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """Where `lookup_with_grant`'s row holds each field of the Token (portal_tokens' columns
    come first), of the Grant (portal_grants' next, then `faulted`) and the grant's id
    (`store.field_positions`: a database file made by an older version may hold its
    columns in another order)."""
    n = len(_TOKEN_FIELDS)
    grant_at = tuple(n + i for i in field_positions(_GRANT_FIELDS, names[n:-1]))
    return field_positions(_TOKEN_FIELDS, names[:n]), grant_at, grant_at[_GRANT_ID]


def _found(row: Any) -> Found:
    """The token and the grant of `lookup_with_grant`'s row, built by position (what
    `_token` and `_grant` build from their own tables' rows)."""
    if row is None:
        return Found(None, None)
    values = tuple(row)
    token_at, grant_at, grant_id_at = _layout(tuple(row.keys()))
    fields = [values[i] for i in token_at]
    fields[_TOKEN_SCOPE] = loads_strings(fields[_TOKEN_SCOPE])
    found = Token(*fields)
    faulted = bool(values[-1])
    if values[grant_id_at] is None:  # no grant row (the LEFT JOIN's id is null)
        return Found(found, None, faulted)
    fields = [values[i] for i in grant_at]
    for at in _GRANT_LISTS:
        fields[at] = loads_strings(fields[at])
    fields[_GRANT_ONE_TIME] = bool(fields[_GRANT_ONE_TIME])
    return Found(found, Grant(*fields), faulted)


def revoke_token(rt: Runtime, token: Token, reason: str, at_ms: int | None = None) -> None:
    now = at_ms if at_ms is not None else rt.now(token.workspace_id)
    with rt.store.tx():
        rt.store.execute_later(
            "UPDATE portal_tokens SET revoked_ms = ?, revoked_reason = ? WHERE token = ?"
            " AND revoked_ms IS NULL",
            (now, reason, token.token),
        )


def revoke_refresh(rt: Runtime, grant: Grant, reason: str, at_ms: int | None = None) -> Grant:
    """End the refresh side of a grant (access tokens already issued keep working)."""
    now = at_ms if at_ms is not None else rt.now(grant.workspace_id)
    with rt.store.tx():
        rt.store.execute(
            "UPDATE portal_tokens SET revoked_ms = ?, revoked_reason = ? WHERE grant_id = ?"
            " AND kind = 'refresh' AND revoked_ms IS NULL",
            (now, reason, grant.id),
        )
        if grant.refresh_revoked_ms is None:
            return update(rt, grant, refresh_revoked_ms=now, refresh_revoked_reason=reason)
    return grant


def revoke(rt: Runtime, grant: Grant, reason: str, at_ms: int | None = None) -> Grant:
    """Revoke the whole grant: every access and refresh token stops working.

    A grant already revoked stays as it was revoked (time and reason).
    """
    now = at_ms if at_ms is not None else rt.now(grant.workspace_id)
    with rt.store.tx():
        rt.store.execute(
            "UPDATE portal_tokens SET revoked_ms = ?, revoked_reason = ? WHERE grant_id = ?"
            " AND revoked_ms IS NULL",
            (now, reason, grant.id),
        )
        current = get(rt, grant.id)
        assert current is not None
        if current.status == GrantLifecycle.revoked.value:
            return current
        return move(
            rt,
            current,
            "revoke",
            revoked_ms=now,
            revoked_reason=reason,
            refresh_revoked_ms=current.refresh_revoked_ms or now,
            refresh_revoked_reason=current.refresh_revoked_reason or reason,
        )


def count_refresh(rt: Runtime, grant: Grant, at_ms: int | None = None) -> int:
    """One refresh more; answers the grant's new count. Nothing is read back, so the write
    may travel with the transaction's next statement (`Store.execute_later`); `grant`
    stays as it was read (no new one is built for a column the caller does not read)."""
    now = at_ms if at_ms is not None else rt.now(grant.workspace_id)
    count = grant.refresh_count + 1
    with rt.store.tx():
        rt.store.execute_later(
            "UPDATE portal_grants SET refresh_count = ?, updated_ms = ? WHERE id = ?",
            (count, now, grant.id),
        )
    return count


def tokens_of(rt: Runtime, grant: Grant, kind: str | None = None) -> list[Token]:
    sql = "SELECT * FROM portal_tokens WHERE grant_id = ?"
    params: tuple = (grant.id,)
    if kind is not None:
        sql += " AND kind = ?"
        params = (*params, kind)
    return [_token(r) for r in rt.store.all(sql + " ORDER BY created_ms", params)]


def find(
    rt: Runtime,
    ws_id: str,
    slug: str,
    *,
    refresh_token: str | None = None,
    access_token: str | None = None,
) -> Grant | None:
    """The grant behind a token of a workspace at a portal."""
    for value in (refresh_token, access_token):
        tok = lookup(rt, slug, value)
        if tok is not None and tok.workspace_id == ws_id:
            return get(rt, tok.grant_id)
    return None


def latest(rt: Runtime, ws_id: str, slug: str, limit: int = 50) -> list[Grant]:
    rows = rt.store.all(
        "SELECT * FROM portal_grants WHERE workspace_id = ? AND slug = ? ORDER BY seq DESC LIMIT ?",
        (ws_id, slug, limit),
    )
    return [_grant(r) for r in rows]

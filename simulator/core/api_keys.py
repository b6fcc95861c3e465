"""API keys beyond a workspace's own: permissions, expiry and revocation.

Every workspace answers to its own key (`workspaces`), which never expires and
cannot be revoked. More keys are made here, as the dashboard's Settings → API
Keys makes them: each is shown once, bound to the workspace that minted it, and
listed as `active`, `revoked` or `expired`. A key is `read_write` or
`read_only`; a read-only key that calls a changing Connect API operation is
403 `permission_error`/`insufficient_scope`. A revoked key is 401
`invalid_api_key`, one past its `expires_at` (on the workspace clock) 401
`expired_api_key`. The workspace's plan caps its active keys (its own key
counts): one more is 429 `rate_limit_error`/`api_key_limit_exceeded`.

Key values come from the CSPRNG and only their SHA-256 is stored; ids
(`apikey_…`) come from the workspace seed. The lifecycle is `KeyLifecycle`.
Keys stay when the workspace is reset, like its own key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from statemachine import State, StateMachine

from simulator.core import ids, plans, workspaces
from simulator.core.errors import ApiError, invalid, not_found
from simulator.core.lifecycle import TransitionNotAllowed, states, transition
from simulator.core.store import Store, row_dict
from simulator.core.timeutil import iso, parse_iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT,
    key_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    permissions TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_ms INTEGER,
    revoked_ms INTEGER,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX IF NOT EXISTS api_keys_ws ON api_keys (workspace_id, seq);
"""

PREFIX = "apikey_"
PERMISSIONS = ("read_write", "read_only")
READ_METHODS = ("GET", "HEAD", "OPTIONS")
# A 429 carries Retry-After; the cap lifts only when a key is revoked or expires.
CAP_RETRY_AFTER = 60


class KeyLifecycle(StateMachine):
    """An API key: usable until it is revoked or its `expires_at` passes."""

    active = State("active", initial=True)
    revoked = State("revoked", final=True)
    expired = State("expired", final=True)

    revoke = active.to(revoked)
    expire = active.to(expired)


STATUSES = states(KeyLifecycle)

INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {
            "description": "A name for your own reference",
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
        },
        "permissions": {
            "description": "`read_write` (default), or `read_only`: a Connect API call that changes anything is 403 `permission_error`",
            "enum": list(PERMISSIONS),
        },
        "expires_at": {
            "description": "When the key stops working (on the workspace clock); never when left out",
            "type": "string",
            "format": "date-time",
        },
    },
}

KEY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "resource_type",
        "name",
        "permissions",
        "status",
        "redacted_key",
        "expires_at",
        "revoked_at",
        "created_at",
    ],
    "properties": {
        "id": {"type": "string", "pattern": f"^{PREFIX}"},
        "resource_type": {"const": "api_key"},
        "name": {"type": ["string", "null"]},
        "permissions": {"enum": list(PERMISSIONS)},
        "status": {"enum": list(STATUSES)},
        "redacted_key": {"type": "string"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
        "key": {"type": "string", "description": "The key itself: answered only at creation"},
    },
}


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A row of `api_keys`."""

    id: str
    workspace_id: str
    seq: int
    name: str | None
    key_hash: str
    hint: str
    permissions: str
    status: str
    expires_ms: int | None
    revoked_ms: int | None
    created_ms: int

    @classmethod
    def from_row(cls, row: Any) -> ApiKey:
        return cls(**row_dict(row))

    def status_at(self, now_ms: int) -> str:
        """The status at `now_ms`: an active key past its expiry is expired."""
        if self.status == "active" and self.expires_ms is not None and now_ms >= self.expires_ms:
            return transition(KeyLifecycle, "active", "expire")
        return self.status


def render(key: ApiKey, now_ms: int, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": key.id,
        "resource_type": "api_key",
        "name": key.name,
        "permissions": key.permissions,
        "status": key.status_at(now_ms),
        "redacted_key": f"{workspaces.KEY_PREFIX}…{key.hint}",
        "expires_at": iso(key.expires_ms),
        "revoked_at": iso(key.revoked_ms),
        "created_at": iso(key.created_ms),
    }
    if secret is not None:
        body["key"] = secret
    return body


def _active_count(store: Store, ws_id: str, now_ms: int) -> int:
    return int(
        store.scalar(
            "SELECT COUNT(*) FROM api_keys WHERE workspace_id = ? AND status = 'active'"
            " AND (expires_ms IS NULL OR expires_ms > ?)",
            (ws_id, now_ms),
        )
    )


def create(store: Store, ws_id: str, now_ms: int, body: dict[str, Any]) -> dict[str, Any]:
    """Mint a key (its value answered only here); 429 past the plan's cap of active keys."""
    expires_ms = None
    if "expires_at" in body:
        expires_ms = parse_iso(body["expires_at"])
        if expires_ms <= now_ms:
            raise invalid("expires_at must be after the workspace clock's now", "expires_at")
    secret = workspaces.new_api_key()
    with store.tx():
        cap = plans.get(store, ws_id).api_key_limit
        active = _active_count(store, ws_id, now_ms) + 1  # the workspace's own key
        if active >= cap:
            raise ApiError(
                "api_key_limit_exceeded",
                f"The workspace already has {active} active API keys, its plan's cap;"
                " revoke one first",
                headers={"Retry-After": str(CAP_RETRY_AFTER)},
            )
        seq, seed = workspaces.next_sequence(store, ws_id)
        key_id = ids.make_id(PREFIX, seed, seq)
        row = store.one(
            "INSERT INTO api_keys (id, workspace_id, seq, name, key_hash, hint, permissions,"
            " status, expires_ms, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING *",
            (
                key_id,
                ws_id,
                seq,
                body.get("name"),
                workspaces.hash_key(secret),
                secret[-4:],
                body.get("permissions", "read_write"),
                "active",
                expires_ms,
                now_ms,
            ),
        )
    return render(ApiKey.from_row(row), now_ms, secret)


def _get(store: Store, ws_id: str, key_id: str) -> ApiKey:
    row = store.one("SELECT * FROM api_keys WHERE workspace_id = ? AND id = ?", (ws_id, key_id))
    if row is None:
        raise not_found("API key", key_id, param="id")
    return ApiKey.from_row(row)


def get(store: Store, ws_id: str, key_id: str, now_ms: int) -> dict[str, Any]:
    return render(_get(store, ws_id, key_id), now_ms)


def list_all(store: Store, ws_id: str, now_ms: int) -> list[dict[str, Any]]:
    rows = store.all("SELECT * FROM api_keys WHERE workspace_id = ? ORDER BY seq", (ws_id,))
    return [render(ApiKey.from_row(r), now_ms) for r in rows]


def revoke(store: Store, ws_id: str, key_id: str, now_ms: int) -> dict[str, Any]:
    """Revoke a key now: every later call with it is 401. 409 when it is not active."""
    with store.tx():
        key = _get(store, ws_id, key_id)
        current = key.status_at(now_ms)
        try:
            target = transition(KeyLifecycle, current, "revoke")
        except TransitionNotAllowed:
            raise ApiError(
                "resource_conflict", f"API key {key_id} is {current}, not active", param="id"
            ) from None
        store.execute(
            "UPDATE api_keys SET status = ?, revoked_ms = ? WHERE workspace_id = ? AND id = ?",
            (target, now_ms, ws_id, key.id),
        )
        return render(_get(store, ws_id, key_id), now_ms)


def by_secret(store: Store, secret: str) -> ApiKey | None:
    row = store.one("SELECT * FROM api_keys WHERE key_hash = ?", (workspaces.hash_key(secret),))
    return None if row is None else ApiKey.from_row(row)


def admit(store: Store, key: ApiKey, now_ms: int) -> str:
    """The permissions of a key presented at `now_ms`; 401 when it is revoked or expired."""
    status = key.status_at(now_ms)
    if status != key.status:  # expiry seen for the first time: write it down
        with store.tx():
            store.execute(
                "UPDATE api_keys SET status = ? WHERE key_hash = ? AND status = ?",
                (status, key.key_hash, key.status),
            )
    if status == "revoked":
        raise ApiError("invalid_api_key", "API key invalid: it was revoked")
    if status == "expired":
        raise ApiError("expired_api_key", f"API key expired at {iso(key.expires_ms)}")
    return key.permissions


def check_permission(permissions: str, method: str) -> None:
    """403 when a read-only key calls an operation that changes something."""
    if permissions == "read_only" and method.upper() not in READ_METHODS:
        raise ApiError(
            "insufficient_scope",
            f"This API key is read-only; {method.upper()} needs a read_write key",
        )

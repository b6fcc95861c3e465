"""Workspaces: isolated tenants, each with an API key, a seed, a clock and its own objects."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from simulator.core import ids
from simulator.core.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS workspaces (
    id TEXT PRIMARY KEY,
    name TEXT,
    api_key_hash TEXT NOT NULL UNIQUE,
    seed INTEGER NOT NULL,
    clock_mode TEXT NOT NULL,
    clock_manual_ms INTEGER NOT NULL,
    clock_offset_ms INTEGER NOT NULL,
    id_seq INTEGER NOT NULL DEFAULT 0,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0,
    registration_token TEXT,
    naming TEXT NOT NULL DEFAULT 'C',
    strict INTEGER NOT NULL DEFAULT 0,
    app_name TEXT
);
"""
# `epoch` counts resets; list cursors carry it, so a cursor from before a reset is refused.
# `registration_token` is the RFC 7591 initial access token the simulator sends when it
# registers its app at a portal for this workspace (the portal binds the client to the
# workspace). Made on first use, kept across resets, never shown by any API.
COLUMNS = (
    ("workspaces", "epoch", "INTEGER NOT NULL DEFAULT 0"),
    ("workspaces", "registration_token", "TEXT"),
    ("workspaces", "naming", "TEXT NOT NULL DEFAULT 'C'"),
    ("workspaces", "strict", "INTEGER NOT NULL DEFAULT 0"),
    ("workspaces", "app_name", "TEXT"),
)
# `naming` is the API generation the workspace speaks (`C`, `B` or `A`, see
# `simulator.core.naming`); `strict` turns on the checks beyond the provider's
# schemas (unknown fields, empty query values, the simulator's own limits).
# Both are set when the workspace is created and kept across resets.
# `app_name` is the name of the app the hosted pages show the patient ("HealthApp wants
# to…"); a simulator setting, as a real workspace's branding is configured elsewhere.

KEY_PREFIX = "mb_sk_sbx_"
CLOCK_MODES = ("real", "manual")


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str | None
    seed: int
    clock_mode: str
    clock_manual_ms: int
    clock_offset_ms: int
    is_default: bool
    created_ms: int
    epoch: int = 0
    naming: str = "C"
    strict: bool = False
    app_name: str | None = None

    @property
    def cursor_scope(self) -> str:
        """What list cursors of this workspace are bound to (changes on reset)."""
        return f"{self.id}:{self.epoch}"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_hex(16)


def _row_to_ws(row) -> Workspace:
    return Workspace(
        id=row["id"],
        name=row["name"],
        seed=row["seed"],
        clock_mode=row["clock_mode"],
        clock_manual_ms=row["clock_manual_ms"],
        clock_offset_ms=row["clock_offset_ms"],
        is_default=bool(row["is_default"]),
        created_ms=row["created_ms"],
        epoch=row["epoch"],
        naming=row["naming"],
        strict=bool(row["strict"]),
        app_name=row["app_name"],
    )


def create(
    store: Store,
    *,
    wall_ms: int,
    seed: int | None = None,
    clock_mode: str = "manual",
    name: str | None = None,
    api_key: str | None = None,
    is_default: bool = False,
    naming: str = "C",
    strict: bool = False,
    app_name: str | None = None,
) -> tuple[Workspace, str]:
    """Create a workspace; returns it with its API key (shown once)."""
    key = api_key or new_api_key()
    if seed is None:
        seed = secrets.randbelow(2**31)
    ws_id = "ws_" + ids.ulid(wall_ms, secrets.token_bytes(10))
    with store.tx():
        store.execute(
            "INSERT INTO workspaces (id, name, api_key_hash, seed, clock_mode, clock_manual_ms,"
            " clock_offset_ms, id_seq, is_default, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (ws_id, name, hash_key(key), seed, clock_mode, wall_ms, 0, 0, int(is_default), wall_ms),
        )
        store.execute(
            "UPDATE workspaces SET naming = ?, strict = ? WHERE id = ?",
            (naming, int(strict), ws_id),
        )
        if app_name is not None:
            store.execute("UPDATE workspaces SET app_name = ? WHERE id = ?", (app_name, ws_id))
    return get(store, ws_id), key


def get(store: Store, ws_id: str) -> Workspace:
    row = store.one("SELECT * FROM workspaces WHERE id = ?", (ws_id,))
    if row is None:
        raise KeyError(ws_id)
    return _row_to_ws(row)


def by_key(store: Store, api_key: str) -> Workspace | None:
    row = store.one("SELECT * FROM workspaces WHERE api_key_hash = ?", (hash_key(api_key),))
    return None if row is None else _row_to_ws(row)


def set_app_name(store: Store, ws_id: str, app_name: str | None) -> Workspace:
    """Name the app the hosted pages show (None: they name the return URL's host)."""
    with store.tx():
        store.execute("UPDATE workspaces SET app_name = ? WHERE id = ?", (app_name, ws_id))
    return get(store, ws_id)


def registration_token(store: Store, ws_id: str) -> str:
    """The workspace's registration token (256 bits from `secrets`), made on first use."""
    with store.tx():
        token = store.scalar("SELECT registration_token FROM workspaces WHERE id = ?", (ws_id,))
        if token is None:
            token = secrets.token_urlsafe(32)
            store.execute(
                "UPDATE workspaces SET registration_token = ? WHERE id = ?", (token, ws_id)
            )
    return token


def by_registration_token(store: Store, token: str) -> Workspace | None:
    if not token:
        return None
    row = store.one("SELECT * FROM workspaces WHERE registration_token = ?", (token,))
    return None if row is None else _row_to_ws(row)


def next_sequence(store: Store, ws_id: str) -> tuple[int, int]:
    """Take the workspace's next sequence number; answers (sequence, seed) in one statement."""
    with store.tx():
        row = store.one(
            "UPDATE workspaces SET id_seq = id_seq + 1 WHERE id = ? RETURNING id_seq, seed",
            (ws_id,),
        )
    if row is None:
        raise KeyError(ws_id)
    return int(row[0]), int(row[1])


# Tables of credentials, not objects: a reset keeps them, as it keeps the workspace's key.
KEPT_ON_RESET = ("api_keys",)


def reset(store: Store, ws_id: str, *, wall_ms: int) -> None:
    """Delete every object of the workspace; keep its id, keys, seed and clock mode."""
    with store.tx():
        for table in store.tables_with_column("workspace_id"):
            if table in KEPT_ON_RESET:
                continue
            store.execute(f"DELETE FROM {table} WHERE workspace_id = ?", (ws_id,))
        store.execute(
            "UPDATE workspaces SET id_seq = 0, clock_manual_ms = ?, clock_offset_ms = 0,"
            " epoch = epoch + 1 WHERE id = ?",
            (wall_ms, ws_id),
        )


def set_api_key(store: Store, ws_id: str, api_key: str) -> None:
    """Replace the workspace's key (the default workspace's key is also kept for printing)."""
    other = by_key(store, api_key)
    if other is not None and other.id != ws_id:
        raise ValueError("that API key already belongs to another workspace")
    with store.tx():
        store.execute(
            "UPDATE workspaces SET api_key_hash = ? WHERE id = ?", (hash_key(api_key), ws_id)
        )
        if get(store, ws_id).is_default:
            store.execute(
                "INSERT INTO meta (key, value) VALUES ('default_api_key', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (api_key,),
            )


def ensure_default(
    store: Store, *, wall_ms: int, seed: int, clock_mode: str, api_key: str | None
) -> tuple[Workspace, str]:
    """The default workspace, created on first start; its key is kept to be printed.

    When `api_key` is given, the default workspace answers to that key from now
    on, also on a database made by an earlier start with another key.
    """
    row = store.one("SELECT * FROM workspaces WHERE is_default = 1")
    if row is not None:
        key = store.scalar("SELECT value FROM meta WHERE key = 'default_api_key'")
        if api_key is not None and api_key != key:
            set_api_key(store, row["id"], api_key)
            key = api_key
        return _row_to_ws(row), key
    ws, key = create(
        store,
        wall_ms=wall_ms,
        seed=seed,
        clock_mode=clock_mode,
        name="default",
        api_key=api_key,
        is_default=True,
    )
    with store.tx():
        store.execute(
            "INSERT INTO meta (key, value) VALUES ('default_api_key', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key,),
        )
    return ws, key

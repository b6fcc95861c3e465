"""The app's own SQLite database: sessions it started, connections it knows, webhooks.

One connection per request (kept on `flask.g`), committed at once: no write
transaction stays open while the app calls Connect.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from flask import Flask, current_app, g

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, mode TEXT NOT NULL,
    source_id TEXT, status TEXT NOT NULL, outcome TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, source_id TEXT NOT NULL,
    status TEXT NOT NULL, failure_code TEXT, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, patient_id TEXT,
    body TEXT NOT NULL, received_at REAL NOT NULL);
"""


def db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = sqlite3.connect(
            current_app.config["DATABASE"], timeout=current_app.config["DATABASE_TIMEOUT"]
        )
        g.db.row_factory = sqlite3.Row
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def init_app(app: Flask) -> None:
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        conn.executescript(SCHEMA)
    app.teardown_appcontext(close_db)


def _write(sql: str, args: tuple[Any, ...]) -> None:
    conn = db()
    with conn:  # commits (or rolls back) at once
        conn.execute(sql, args)


def _rows(sql: str, args: tuple[Any, ...]) -> list[sqlite3.Row]:
    return db().execute(sql, args).fetchall()


def get_setting(key: str) -> str | None:
    row = db().execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return None if row is None else row["value"]


def set_setting(key: str, value: str) -> None:
    _write("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))


def add_session(session_id: str, patient_id: str, mode: str, source_id: str | None) -> None:
    _write(
        "INSERT INTO sessions (id, patient_id, mode, source_id, status, created_at)"
        " VALUES (?, ?, ?, ?, 'open', ?)",
        (session_id, patient_id, mode, source_id, time.time()),
    )


def get_session(session_id: str) -> sqlite3.Row | None:
    return db().execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()


def set_session(session_id: str, status: str, outcome: str | None = None) -> None:
    _write(
        "UPDATE sessions SET status = ?, outcome = COALESCE(?, outcome) WHERE id = ?",
        (status, outcome, session_id),
    )


def sessions_of(patient_id: str) -> list[sqlite3.Row]:
    return _rows(
        "SELECT * FROM sessions WHERE patient_id = ? ORDER BY created_at DESC", (patient_id,)
    )


def upsert_connection(item: dict[str, Any], patient_id: str) -> None:
    """Remember a connection (`conn_` id) and its latest status; failed attempts have no id."""
    if not item.get("id"):
        return
    _write(
        "INSERT INTO connections (id, patient_id, source_id, status, failure_code, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
        " status = excluded.status, failure_code = excluded.failure_code,"
        " updated_at = excluded.updated_at",
        (
            item["id"],
            patient_id,
            item["connection_id"],
            item["status"],
            item.get("failure_code"),
            time.time(),
        ),
    )


def connection_patient(conn_id: str) -> str | None:
    row = db().execute("SELECT patient_id FROM connections WHERE id = ?", (conn_id,)).fetchone()
    return None if row is None else row["patient_id"]


def has_event(event_id: str) -> bool:
    return db().execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone() is not None


def add_event(event: dict[str, Any], patient_id: str | None) -> bool:
    """Store a verified event once; False when its id was already stored (a redelivery)."""
    conn = db()
    with conn:
        cur = conn.execute(
            "INSERT OR IGNORE INTO events (id, type, patient_id, body, received_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (event["id"], event["type"], patient_id, json.dumps(event), time.time()),
        )
    return cur.rowcount == 1


def events_of(patient_id: str) -> list[sqlite3.Row]:
    return _rows(
        "SELECT id, type FROM events WHERE patient_id = ? ORDER BY received_at", (patient_id,)
    )

"""The store: one SQLite database (WAL) behind a small interface.

Every module that keeps state declares its DDL as a `SCHEMA` string (and, for a
column added after a table first shipped, a `COLUMNS` tuple); whoever composes
the process hands those to `ensure_schema`, so nothing is registered by
importing. All access goes through `Store.tx()`, which serialises writers with
one lock, so one connection can be shared by the server's threads. Never hold a
transaction across outbound HTTP: the peer may be served by this same process.

The SQLite dialect lives here (pragmas, `BEGIN IMMEDIATE`, the catalog queries);
statements elsewhere use SQL that PostgreSQL runs too (`ON CONFLICT`,
`RETURNING`), so another backend can be added behind this interface without
touching the domain (`tests/test_architecture.py` checks it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Column = tuple[str, str, str]
"""A column added to a table after it first shipped: (table, column, declaration)."""


class StoreError(Exception):
    """The database cannot be used: corrupt, not a database, or gone."""


HEALTH_CACHE_S = 5.0


class Store:
    """A SQLite database shared by every thread of one process."""

    def __init__(
        self, path: str = ":memory:", schemas: Sequence[str] = (), columns: Sequence[Column] = ()
    ) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        self._checked: tuple[float, str | None] | None = None
        try:
            with self._lock:
                if path != ":memory:":
                    self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.execute("PRAGMA foreign_keys=OFF")
            problem = self._problem()
            if problem is not None:
                raise StoreError(problem)
            self.ensure_schema(schemas, columns)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{path} is not a usable SQLite database ({exc})") from None
        except StoreError:
            self._conn.close()
            raise
        self._inode = os.stat(path).st_ino if path != ":memory:" else None

    def ensure_schema(self, schemas: Sequence[str], columns: Sequence[Column] = ()) -> None:
        """Create tables and indexes (idempotent DDL) and add columns missing from older files."""
        with self.tx():
            for ddl in schemas:
                for statement in _split_sql(ddl):
                    self._conn.execute(statement)
            for table, column, decl in columns:
                present = {c[1] for c in self._conn.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    @contextmanager
    def tx(self) -> Iterator[Store]:
        """A transaction (nested calls join the outer one)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            else:
                self._depth -= 1
                if outer:
                    self._conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        with self._lock:
            self._conn.executemany(sql, rows)

    def one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: tuple | dict = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """Call `callback` with the text of every statement run from now on (None stops)."""
        with self._lock:
            self._conn.set_trace_callback(callback)

    def tables_with_column(self, column: str) -> list[str]:
        names = [
            r[0]
            for r in self.all(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return [
            name
            for name in names
            if any(col[1] == column for col in self.all(f"PRAGMA table_info({name})"))
        ]

    def health(self) -> str | None:
        """None when the database is usable, else what is wrong (checked at most every 5 s).

        The shared connection's page cache hides a file truncated or overwritten
        underneath it, so the check opens the file afresh, read-only, and runs
        SQLite's `quick_check`; it also notices the file deleted or replaced.
        """
        now = time.monotonic()
        if self._checked is not None and now - self._checked[0] < HEALTH_CACHE_S:
            return self._checked[1]
        if self.path != ":memory:":
            try:
                inode = os.stat(self.path).st_ino
            except OSError:
                inode = None
            if inode != self._inode:
                problem: str | None = (
                    f"the database file {self.path} was deleted or replaced while serving;"
                    " what is written now is lost at exit: restart the server"
                )
                self._checked = (now, problem)
                return problem
        try:
            problem = self._problem()
        except sqlite3.Error as exc:
            problem = f"the database cannot be read ({exc})"
        self._checked = (now, problem)
        return problem

    def _problem(self) -> str | None:
        if self.path == ":memory:":
            with self._lock:
                self._conn.execute("SELECT 1")
            return None
        fresh = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            result = fresh.execute("PRAGMA quick_check(1)").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            return f"the database file {self.path} is corrupt ({exc})"
        finally:
            fresh.close()
        if result != "ok":
            first = str(result).strip().splitlines()[-1]
            return f"the database file {self.path} is corrupt ({first})"
        return None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _split_sql(ddl: str) -> list[str]:
    return [part.strip() for part in ddl.split(";") if part.strip()]


def dumps(value: Any) -> str:
    """JSON for a stored column (compact, key order kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None, default: Any = None) -> Any:
    return default if text is None else json.loads(text)

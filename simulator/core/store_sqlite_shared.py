"""One SQLite file shared by several processes, and the locks they all honour.

`serve --workers N` on a SQLite file runs N processes on that file. SQLite itself
lets one of them write at a time, but a workspace's clock must move under a lock
every process sees, and a writer that finds the file busy sleeps in SQLite's busy
handler (1, 2, 5, 10 ms...) instead of waking when the other is done. So each
process takes POSIX byte-range locks (`fcntl.lockf`) on `<database>-locks`: byte 0
while it writes (around BEGIN IMMEDIATE ... COMMIT), and one byte per workspace
while it moves that workspace's clock. The kernel wakes a waiter as soon as the
holder lets go, and gives every lock of a process back when it dies (a kill -9
leaves nothing held). A wait in `lockf` lets the process's other threads run.

Such locks belong to the process, not the thread: the caller excludes its own
threads first (the store's lock, the workspace's in-process lock), so one thread
at a time asks for each byte.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from simulator.core.lockfile import OWNER, WRITE, LockFile
from simulator.core.store import (
    Column,
    Result,
    SqliteStore,
    StoreError,
    WorkspaceLock,
    WorkspaceLocks,
)


class FileWorkspaceLock(WorkspaceLock):
    """The workspace's in-process lock and, while held, its byte of the lock file."""

    __slots__ = ("_file", "_offset")

    def __init__(self, file: LockFile, ws_id: str) -> None:
        super().__init__()
        self._file = file
        self._offset = LockFile.offset_of("workspace:" + ws_id)

    def _acquire_shared(self, blocking: bool) -> bool:
        return self._file.acquire(self._offset, blocking)

    def _release_shared(self) -> None:
        self._file.release(self._offset)


def _writes(sql: str) -> bool:
    """Whether a statement may write (anything but a plain read)."""
    return sql.lstrip()[:6].upper() != "SELECT"


def _read_to_the_end(cursor: sqlite3.Cursor) -> Result:
    """A cursor read to the end (its rows, then its count): nothing of it stays open."""
    rows = cursor.fetchall()
    names = None if cursor.description is None else tuple(d[0] for d in cursor.description)
    return Result(cursor.rowcount, names, rows)


class SharedSqliteStore(SqliteStore):
    """A SQLite file (WAL) that other processes use at the same time (`serve --workers`).

    Each transaction, and each write outside one, holds the lock file's write byte
    from BEGIN IMMEDIATE to COMMIT; a workspace's lock holds that workspace's byte.
    `shared` tells the engine that other processes schedule and run jobs here too (no
    cache of "nothing due", leases on claimed jobs, cancels through `clock_moves`)."""

    shared = True

    def __init__(
        self, path: str, schemas: Sequence[str] = (), columns: Sequence[Column] = ()
    ) -> None:
        if path == ":memory:":
            raise StoreError("an in-memory database cannot be shared by several processes")
        super().__init__(path, schemas, columns)
        self._locks = WorkspaceLocks(lambda ws_id: FileWorkspaceLock(self._file, ws_id))

    @property
    def _file(self) -> LockFile:
        assert self._lockfile is not None  # a shared store is a file, so it has one
        return self._lockfile

    def _claim(self, lockfile: LockFile) -> LockFile:
        """Shared with the other processes that share it; refused beside a sole user."""
        if not lockfile.acquire(OWNER, blocking=False, shared=True):
            lockfile.close()
            raise StoreError(
                f"{self.path} is in use by a process that is its only user (a connect-sim"
                " serve without --workers): stop it first"
            )
        return lockfile

    def _begin(self) -> None:
        self._file.acquire(WRITE)
        try:
            super()._begin()
        except BaseException:
            self._file.release(WRITE)
            raise

    def _end(self, how: str) -> None:
        try:
            super()._end(how)
        finally:
            self._file.release(WRITE)

    def execute(self, sql: str, params: tuple | dict = ()) -> Any:
        with self._lock:
            if self._depth > 0:
                return super().execute(sql, params)
            if not _writes(sql):
                # Read to the end here too: a statement still open once the lock is let go
                # holds its snapshot, and another thread's BEGIN IMMEDIATE on this
                # connection, after another process committed, fails at once as
                # "database is locked" (SQLite cannot move that snapshot forward).
                return _read_to_the_end(super().execute(sql, params))
            with self.tx():  # read to the end first: COMMIT refuses a statement in progress
                return _read_to_the_end(super().execute(sql, params))

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        with self.tx():
            super().executemany(sql, rows)

    def one(self, sql: str, params: tuple | dict = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple | dict = ()) -> list[Any]:
        return self.execute(sql, params).fetchall()

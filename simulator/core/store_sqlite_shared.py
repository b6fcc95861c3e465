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

import errno
import fcntl
import hashlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from simulator.core.store import Column, SqliteStore, StoreError, WorkspaceLock, WorkspaceLocks

WRITE = 0  # the byte a writer holds


class LockFile:
    """The lock file of one database, open for this process's whole life with the store."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @staticmethod
    def offset_of(name: str) -> int:
        """A byte of its own for `name` (62 bits of its hash: two names never share one)."""
        return 1 + (int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 2)

    def acquire(self, offset: int, blocking: bool = True) -> bool:
        flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.lockf(self._fd, flags, 1, offset)
        except OSError as exc:
            if not blocking and exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def release(self, offset: int) -> None:
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, offset)

    def close(self) -> None:
        os.close(self._fd)  # gives back every lock this process holds on the file


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
        self._file = LockFile(path + "-locks")
        try:
            super().__init__(path, schemas, columns)
        except BaseException:
            self._file.close()
            raise
        self._locks = WorkspaceLocks(lambda ws_id: FileWorkspaceLock(self._file, ws_id))

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

    @contextmanager
    def _writing(self, sql: str) -> Iterator[None]:
        if self._depth == 0 and _writes(sql):
            with self.tx():  # one statement: atomic either way, now under the write byte
                yield
        else:
            yield

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        with self._lock, self._writing(sql):
            return super().execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        with self._lock, self._writing(sql):
            super().executemany(sql, rows)

    def one(self, sql: str, params: tuple | dict = ()) -> Any:
        with self._lock, self._writing(sql):
            return super().one(sql, params)

    def all(self, sql: str, params: tuple | dict = ()) -> list[Any]:
        with self._lock, self._writing(sql):
            return super().all(sql, params)

    def workspace_lock(self, ws_id: str) -> WorkspaceLock:
        """An in-process lock plus the workspace's byte of the lock file."""
        return self._locks.get(ws_id)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._file.close()

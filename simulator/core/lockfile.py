"""POSIX byte-range locks (`fcntl.lockf`) on a file beside a SQLite database.

Such a lock belongs to a process, not a thread, and the kernel gives back every
lock of a process when it dies (a kill -9 leaves nothing held). Byte 0 is held by
the process writing (shared stores); byte 1 says who uses the database: a process
that is its only user holds it exclusively, processes that share it (`serve
--workers`) hold it shared, so neither kind starts beside the other; every other
byte is one workspace's.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os

WRITE = 0  # the byte a writer holds
OWNER = 1  # held exclusively by a sole user, shared by processes that share the database


class LockFile:
    """The lock file of one database, open for this process's whole life with the store."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @staticmethod
    def offset_of(name: str) -> int:
        """A byte of its own for `name` (62 bits of its hash: two names never share one)."""
        return 2 + (int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 2)

    def acquire(self, offset: int, blocking: bool = True, *, shared: bool = False) -> bool:
        flags = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        if not blocking:
            flags |= fcntl.LOCK_NB
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

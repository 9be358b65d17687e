"""Errors the store raises.

`BadInput` and its subclasses are errors a user can cause (an unknown name, a bad file): the
CLI turns them into one line and exit code 2. Everything else is a runtime failure (exit 1).
"""

import errno
import os


class StoreError(Exception):
    """Base class of everything the store raises on purpose."""


class BadInput(StoreError):
    """Input a user can fix. `field` names what was wrong, the message says what was expected."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(BadInput):
    """A job, version, alias, queue, item or run that does not exist."""


class AlreadyExists(BadInput):
    """A name that is already taken."""


class DatabaseUnusable(BadInput):
    """The database file can't be used: a directory, not SQLite, read-only, or a newer schema."""


class IllegalTransition(StoreError):
    """A state change the state machine forbids (for example leaving a terminal state)."""


class DiskFull(StoreError):
    """No space is left on the device that holds the database or its files (exit 1)."""

    def __init__(self, where: str):
        super().__init__(f"disk full: no space left for {where}; free some space and retry")
        self.where = where


def is_disk_full(exc: BaseException, near: str | os.PathLike | None = None) -> bool:
    """Whether `exc` (an OSError, an sqlite3 error, or one raised from either) means no space
    is left on the device. SQLite reports some of those as a bare "disk I/O error" (creating
    its -shm file, say): with `near`, a path on the device, that one counts too when the device
    has no space left."""
    import sqlite3

    while exc is not None:
        if isinstance(exc, DiskFull):
            return True
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(exc, sqlite3.Error) and code is not None:
            if code & 0xFF == sqlite3.SQLITE_FULL:
                return True
            if code & 0xFF == sqlite3.SQLITE_IOERR and near is not None:
                return _no_space_left(near)
        exc = exc.__cause__
    return False


def _no_space_left(near: str | os.PathLike) -> bool:
    try:
        stats = os.statvfs(near)
    except OSError:
        return False
    return stats.f_bavail == 0 or stats.f_favail == 0


LOCKED = "the database is locked by another writer"
FULL = "the disk is full"


def passing_fault(exc: BaseException, near: str | os.PathLike | None = None) -> str | None:
    """What is wrong when `exc` (or an error it was raised from) is a fault of the store that
    passes by itself: a write lock held past the busy timeout, or a full disk. A long-lived
    process (the agent) waits and retries; a command says it in one line. None for anything
    else."""
    import sqlite3

    if is_disk_full(exc, near):
        return FULL
    while exc is not None:
        if isinstance(exc, sqlite3.OperationalError):
            code = getattr(exc, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return LOCKED
            if code is not None and code & 0xFF == sqlite3.SQLITE_IOERR:
                return "the database could not be written (disk I/O error; disk full?)"
            if code is None:  # raised by the sqlite3 module itself: no code, only words
                text = str(exc)
                if "locked" in text:
                    return LOCKED
                if "full" in text:
                    return FULL
        exc = exc.__cause__
    return None

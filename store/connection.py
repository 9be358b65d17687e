"""Opening the database file: checks first, so that a file we can't use is left as it was."""

import os
import sqlite3
import stat
from pathlib import Path

from .errors import DatabaseUnusable, DiskFull, is_disk_full
from .paths import make_private_dir
from .schema_version import SCHEMA_VERSION

BUSY_TIMEOUT_MS = 10_000


def open_connection(path: Path, *, migrate: bool = True) -> sqlite3.Connection:
    """Open (creating it 0600 if missing) and migrate the database at `path`.

    The connection is in autocommit mode: every write either stands alone or is wrapped in an
    explicit `BEGIN IMMEDIATE`, so claims never read-then-write inside a deferred transaction.
    """
    path = Path(path)
    _check_usable(path)
    created = not path.exists() and _create_private_file(path)
    try:
        return _connect(path, migrate)
    except BaseException as exc:
        if not is_disk_full(exc, near=path.parent):
            raise
        if created:  # the empty file we made is not left behind to look like a database
            _remove_created(path)
        raise DiskFull(str(path)) from exc


def _connect(path: Path, migrate: bool) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
    except sqlite3.Error as exc:
        raise DatabaseUnusable("database", f"{path}: cannot open ({exc})") from exc
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        _refuse_newer_schema(path, version)
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable across application crashes in WAL mode; only a power loss can drop
        # the last commits. It is what makes each small transaction cheap.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if migrate and version < SCHEMA_VERSION:
            _apply_migrations(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB:  # the file untouched
            raise DatabaseUnusable(
                "database", f"{path} is not an SQLite database, or is damaged"
            ) from None
        raise DatabaseUnusable("database", f"{path}: not a usable SQLite database ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _check_usable(path: Path) -> None:
    if path.is_dir():
        raise DatabaseUnusable("database", f"{path} is a directory; expected a database file")
    if path.exists():
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise DatabaseUnusable("database", f"{path} is not a regular file")
        # Root passes every access() check, so read the mode bits: a file nobody may write is
        # read-only on purpose, and we leave it alone.
        if not (mode & stat.S_IWUSR) or not os.access(path, os.W_OK):
            raise DatabaseUnusable("database", f"{path} is read-only; expected a writable file")
        # Not read here with open(): closing any descriptor of the file drops every POSIX
        # lock this process holds on it, those of its open connections too. Another process
        # would then take itself for the last user and delete the WAL under them (lost
        # writes). SQLite itself says "file is not a database" (see open_connection).
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise DatabaseUnusable(
                "database", f"{path.parent} is not writable; SQLite needs it for its WAL file"
            )


def _create_private_file(path: Path) -> bool:
    """Create the database file 0600; False when another process created it first."""
    try:
        make_private_dir(path.parent)
    except (FileExistsError, NotADirectoryError):
        raise DatabaseUnusable(
            "database", f"{path}: a parent of this path is a file, not a directory"
        ) from None
    except OSError as exc:
        raise DatabaseUnusable(
            "database", f"{path.parent}: cannot create ({exc.strerror})"
        ) from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False  # another process created it first; it made it 0600 too
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFull(str(path)) from exc
        raise DatabaseUnusable("database", f"{path}: cannot create ({exc.strerror})") from exc
    os.close(fd)
    return True


def _remove_created(path: Path) -> None:
    """Remove the database file this process created, unless some process wrote to it since
    (an empty file holds nothing; a file with a header is another's database now)."""
    try:
        if path.stat().st_size > 0:
            return
        path.unlink()
    except FileNotFoundError:
        return
    for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        companion.unlink(missing_ok=True)


def _refuse_newer_schema(path: Path, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise DatabaseUnusable(
            "database",
            f"{path} was written by a newer launchbay (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade launchbay to use it",
        )


def _apply_migrations(conn: sqlite3.Connection, path: Path) -> None:
    import sqlite_utils

    from .migrations import migrations

    # BEGIN IMMEDIATE serialises migrating processes: the second one waits, then sees the
    # version the first one wrote and has nothing to do.
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        _refuse_newer_schema(path, version)
        if version < SCHEMA_VERSION:
            migrations.apply(sqlite_utils.Database(conn))
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise

"""The store: one SQLite connection (one per thread) and the repositories that use it."""

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from .agents import AgentStore
from .artifacts import ArtifactStore
from .connection import open_connection
from .gpus import GpuAllocationStore
from .items import ItemStore
from .jobs import JobStore
from .metrics import MetricStore
from .paths import files_dir_for, make_private_dir, resolve_db_path
from .preferences import PreferenceStore
from .queues import QueueStore
from .runs import RunStore
from .signals import notify_changed, signal_key
from .sweeps import SweepStore


class Store:
    """Everything launchbay keeps, in one SQLite file and the folder beside it.

    Open one per thread: `Store.open(path)`. Writes that must be atomic use `transaction()`.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path
        self.files_dir = files_dir_for(path)
        self.signal_key = signal_key(path)
        self.jobs = JobStore(conn, self.transaction)
        self.queues = QueueStore(conn, self.transaction, self.notify)
        self.items = ItemStore(conn, self.transaction, self.notify)
        self.runs = RunStore(conn, self.transaction, self.notify)
        self.agents = AgentStore(conn)
        self.gpus = GpuAllocationStore(conn)
        self.metrics = MetricStore(conn, self.transaction)
        self.preferences = PreferenceStore(conn, self.transaction)
        self.sweeps = SweepStore(conn, self.transaction, self.notify)
        self.artifacts = ArtifactStore(self.files_dir / "artifacts")

    @classmethod
    def open(cls, path: str | Path | None = None) -> "Store":
        """Open the database at `path` (else `$LAUNCHBAY_DB`, else the user data dir)."""
        resolved = resolve_db_path(path)
        store = cls(open_connection(resolved), resolved)
        # Made here, 0700 whatever the umask: whoever makes a run's folder later creates only
        # that folder (mkdir's parents=True would give its parents the umask's mode). On a full
        # disk reading still works, and the first write says what is wrong.
        with contextlib.suppress(OSError):
            make_private_dir(store.files_dir / "runs")
        return store

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; joins the enclosing transaction when nested."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def notify(self) -> None:
        """Wake agents in this process after a write they may care about."""
        if not self.conn.in_transaction:
            notify_changed(self.signal_key)

    def data_version(self) -> int:
        """Changes whenever another connection commits (not on this connection's own writes)."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def run_dir(self, run_id: str) -> Path:
        """Where a run's log, config file and working copy live."""
        return self.files_dir / "runs" / run_id

    def run_log_path(self, run_id: str) -> Path:
        """The run's log: its stdout and stderr, line by line."""
        return self.run_dir(run_id) / "output.log"

    def close(self) -> None:
        self.conn.close()

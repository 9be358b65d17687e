"""launchbay's store: jobs, queues, queue items and runs in one SQLite file.

Imports nothing of launchbay's and nothing heavy; `sqlite_utils` only when a migration runs.
"""

from .errors import (
    AlreadyExists,
    BadInput,
    DatabaseUnusable,
    IllegalTransition,
    NotFound,
    StoreError,
)
from .records import JobVersion, Queue, QueueItem, Run, RunEvent, iso
from .states import ItemState, Priority, RunState, Stage
from .store import Store

__all__ = [
    "AlreadyExists",
    "BadInput",
    "DatabaseUnusable",
    "IllegalTransition",
    "ItemState",
    "JobVersion",
    "NotFound",
    "Priority",
    "Queue",
    "QueueItem",
    "Run",
    "RunEvent",
    "RunState",
    "Stage",
    "Store",
    "StoreError",
    "iso",
]

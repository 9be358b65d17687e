"""Store access for worker threads: one connection per thread, kept for the thread's life."""

import threading
from pathlib import Path

from store import Store


class ThreadStores:
    """`get()` returns this thread's Store on the database at `path`, opening it once."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()

    def get(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store.open(self.path)
        return store

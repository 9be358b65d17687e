"""Waiting for the store to change, without polling: what the agent and the TUI sleep on.

A `ChangeListener` wakes on (a) writes announced in this process (store.signals), from other
threads than the listener's own, (b) the database file being written by another process
(inotify), confirmed by PRAGMA data_version so that the listener's own commits cost nothing,
and (c) `poke()`, for anything else that should end a wait (a run thread's news, a stop).
"""

import selectors
import threading
import time

from runners.system.wakeup import FileWatch, Waker
from store import Store
from store.signals import subscribe

# With no inotify, how often to look at PRAGMA data_version instead.
NO_INOTIFY_POLL_SECONDS = 0.2
# A writer's WAL write is seen a moment before its commit becomes visible: an unchanged
# data_version after a file event is looked at once more, this much later.
COMMIT_SETTLE_SECONDS = 0.01


class ChangeListener:
    """Owned by one thread, which calls `wait()`; `poke()` may be called from any thread."""

    def __init__(self, store: Store, waker: Waker | None = None):
        """`waker`: one the caller keeps (and closes) to poke this listener after it is gone."""
        self._store = store
        self._owner = threading.get_ident()
        self._own_waker = waker is None
        self._waker = waker or Waker()
        self._watch = FileWatch(store.path.parent, {store.path.name, store.path.name + "-wal"})
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._waker.fileno(), selectors.EVENT_READ, "waker")
        if self._watch.available:
            self._selector.register(self._watch.fileno(), selectors.EVENT_READ, "watch")
        self._unsubscribe = subscribe(store.signal_key, self._on_local_write)
        self._seen_version = store.data_version()

    def poke(self) -> None:
        self._waker.wake()

    def _on_local_write(self) -> None:
        if threading.get_ident() != self._owner:  # our own writes need no wake-up
            self._waker.wake()

    def mark_seen(self) -> None:
        """Call before reading the store: later commits by others then count as news."""
        self._seen_version = self._store.data_version()

    def wait(self, deadline: float) -> bool:
        """Sleep until news or `deadline` (time.monotonic()); True if something changed."""
        recheck_at = None
        while True:
            now = time.monotonic()
            if recheck_at is not None and now >= recheck_at:
                if self._changed():
                    return True
                recheck_at = None
            wake_at = deadline if recheck_at is None else min(deadline, recheck_at)
            if not self._watch.available:
                wake_at = min(wake_at, now + NO_INOTIFY_POLL_SECONDS)
            if wake_at <= now and recheck_at is None:
                return self._changed() if not self._watch.available else False
            events = self._selector.select(max(wake_at - now, 0))
            if not events and not self._watch.available and self._changed():
                return True
            for key, _ in events:
                if key.data == "waker":
                    self._waker.drain()
                    return True
                if self._watch.drain():
                    if self._changed():
                        return True
                    recheck_at = time.monotonic() + COMMIT_SETTLE_SECONDS

    def _changed(self) -> bool:
        return self._store.data_version() != self._seen_version

    def close(self) -> None:
        self._unsubscribe()
        self._selector.close()
        self._watch.close()
        if self._own_waker:
            self._waker.close()

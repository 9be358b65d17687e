"""The agent through faults of the store that pass by themselves (a write lock held past the
busy timeout, a full disk): it backs off and retries, saying so in its report and in its agent
record's last error (which the app's footer shows), instead of dying (a mixin of `Agent`)."""

import contextlib
import sqlite3
from collections.abc import Callable

from store import Store
from store.errors import passing_fault

FIRST_BACKOFF_SECONDS = 0.25  # a store fault is retried after this, doubling each time…
MAX_BACKOFF_SECONDS = 30.0  # …up to this


class StoreFaults:
    """Backing off and retrying through the store's passing faults."""

    def _past_faults(self, store: Store | None, action: Callable):
        """`action()`, retried with backoff while the store has a passing fault; None if the
        agent is stopped meanwhile."""
        while not self._stop.is_set():
            try:
                result = action()
            except Exception as exc:
                reason = passing_fault(exc)
                if reason is None:
                    raise
                self._back_off(store, reason)
                continue
            return result
        return None

    def _back_off(self, store: Store | None, reason: str) -> None:
        if store is not None and store.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # a failed COMMIT leaves it open
                store.conn.execute("ROLLBACK")
        delay = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**self._faults)
        self._faults += 1
        self._next_heartbeat = 0.0  # each retry writes: the next pass proves the store is back
        message = f"store unavailable: {reason}; retrying in {delay:g}s (attempt {self._faults})"
        self.last_error = message
        self._report(message)
        if store is not None:
            try:  # likely refused by the same fault; _recovered records it then
                store.agents.record_error(self.id, message)
            except Exception as exc:
                if passing_fault(exc) is None:
                    raise
        self._stop.wait(delay)

    def _recovered(self, store: Store) -> None:
        message = f"{self.last_error}; writable again after {self._faults} failed attempt(s)"
        store.agents.record_error(self.id, message)
        self.last_error = message
        self._faults = 0
        self._report(message)

"""In-process change notifications.

A write that an agent cares about (an enqueue, a stop request, a queue resumed) calls
`notify_changed(key)` after it commits; an agent in the same process subscribes and wakes at
once instead of waiting to see the file change.
"""

import os
import threading
from collections.abc import Callable
from pathlib import Path

_lock = threading.Lock()
_subscribers: dict[str, set[Callable[[], None]]] = {}


def signal_key(db_path: Path) -> str:
    """The key under which writes to `db_path` are announced (compute once, it stats the path)."""
    return os.path.realpath(db_path)


def subscribe(key: str, callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` (from the writing thread) after each notified write. Returns unsubscribe."""
    with _lock:
        _subscribers.setdefault(key, set()).add(callback)

    def unsubscribe() -> None:
        with _lock:
            _subscribers.get(key, set()).discard(callback)

    return unsubscribe


def notify_changed(key: str) -> None:
    callbacks = _subscribers.get(key)
    if not callbacks:  # the common case in a CLI process: nobody listens, take no lock
        return
    with _lock:
        callbacks = list(callbacks)
    for callback in callbacks:
        callback()

"""The time the app shows relative times against; tests and screenshots pin it."""

import time
from collections.abc import Callable

_now: Callable[[], float] = time.time


def now() -> float:
    return _now()


def pin(moment: float | None) -> None:
    """Freeze the clock at `moment` (None: back to real time)."""
    global _now
    _now = time.time if moment is None else (lambda: moment)

"""A metric source made of samples taken now (the run's CPU, memory, …), not read from a file:
it samples at most every SAMPLE_SECONDS, whatever the agent's pace, and keeps no cursor (a
sample missed while no agent ran is simply not there)."""

from __future__ import annotations

import time
from collections.abc import Callable

from runners.metrics.sources import Batch, Point

SAMPLE_SECONDS = 5.0


class SampledSource:
    """`sample()` returns the points of now ([] once the run is gone; it never raises)."""

    def __init__(self, name: str, sample: Callable[[], list[Point]], every: float | None = None):
        self.name = name
        self._sample = sample
        self._every = SAMPLE_SECONDS if every is None else every
        self._next = 0.0

    def read(self, cursor: str | None, limit: int) -> Batch:
        now = time.monotonic()
        if now < self._next:
            return Batch([], cursor)
        self._next = now + self._every
        return Batch(self._sample()[:limit], cursor)

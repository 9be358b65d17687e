"""The shape every metric source shares: where a run's points come from, read on from a cursor.

A source is one place a run writes points: the JSON-lines file named by LAUNCHBAY_METRICS_FILE,
the run's log lines that carry the protocol's prefix (remote targets), a TensorBoard event file.
The agent calls `read(cursor)` as the run goes and stores the points it returns together with
the new cursor, in one transaction: after a crash the next agent reads on from the stored
cursor, so no point is lost or stored twice. A cursor is the source's own text (a byte offset,
an offset and a file's identity…); None means from the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The store keeps points as they are (it imports nothing of ours): one Point for both.
from store.metrics import Point as Point


@dataclass(frozen=True)
class Batch:
    """What one read of a source gave: its points, the cursor to read on from, and how many
    records it skipped as malformed (counted on the run and shown as a warning)."""

    points: list[Point]
    cursor: str | None
    malformed: int = 0


class MetricSource(Protocol):
    name: str
    """Stable across agent restarts: the cursor is stored under (run id, name)."""

    def read(self, cursor: str | None, limit: int) -> Batch:
        """The points after `cursor`, at most about `limit` of them (a huge file is read in
        slices, so that one run can't hold up the agent). Never raises on bad content: it is
        skipped and counted."""
        ...

"""Reading runs' metrics into the store as they run (a mixin of `Agent`).

Every INGEST_SECONDS while this agent has live runs, each run's sources (runners/metrics/
discovery.py) are read on from their stored cursors, at most SLICE_POINTS points a source a
pass, and stored with the new cursor in one transaction (`store.metrics.append`): an agent
killed at any moment leaves cursors that match the points stored, and its successor reads on
from there, so each point is stored once. A run that ended is read once more, to the end of its
sources (its runner drained its log before reporting the end), in slices over the next passes.
With no live run nothing is read and no timer is set.
"""

from __future__ import annotations

import math
import time

from runners.metrics.discovery import SYSTEM_SOURCE, sources_for, sources_found
from runners.metrics.sources import MetricSource
from runners.runlog.logfile import note_in_log
from store import NotFound, Store

INGEST_SECONDS = 1.0
SLICE_POINTS = 5000  # per source and pass: a huge backlog is read over several passes


class MetricIngest:
    """Follows the metric sources of this agent's live runs, and of runs that just ended."""

    _metrics_at: float = 0.0

    def _ingest_metrics(self, store: Store) -> float:
        """Read what is due; when to come back (monotonic; inf: nothing followed)."""
        followed = self._metric_runs()
        if not followed:
            return math.inf
        now = time.monotonic()
        finishing = [run_id for run_id in followed if run_id not in self.live]
        if now < self._metrics_at and not finishing:
            return self._metrics_at
        more = False
        for run_id in list(followed):
            sources = followed[run_id]
            if sources is None or self._handle_came(run_id, sources):
                sources = followed[run_id] = self._metric_sources_of(store, run_id)
            ended = run_id not in self.live
            behind = self._ingest_run(store, run_id, sources + self._found(store, run_id), ended)
            if ended and not behind:
                del followed[run_id]  # ended, and read to the end
            more |= behind
        self._metrics_at = now if more else now + INGEST_SECONDS
        return self._metrics_at if followed else math.inf

    def _follow_metrics(self, run_id: str) -> None:
        """Read the run's metrics from now on, and to their end once it ends: called where a
        run becomes live, since a short run may end before the next pass sees it live."""
        self._metric_runs().setdefault(run_id, None)
        self._metrics_at = 0.0  # its first points without waiting a whole interval

    def _metric_runs(self) -> dict[str, list[MetricSource] | None]:
        try:
            return self._followed_metrics
        except AttributeError:
            self._followed_metrics: dict[str, list[MetricSource] | None] = {}
            return self._followed_metrics

    def _handle_came(self, run_id: str, sources: list[MetricSource]) -> bool:
        """The run's handle was recorded since its sources were listed: now its system sampler
        knows where the run is."""
        live = self.live.get(run_id)
        has_sampler = any(source.name == SYSTEM_SOURCE for source in sources)
        return live is not None and live.handle is not None and not has_sampler

    def _found(self, store: Store, run_id: str) -> list[MetricSource]:
        found = sources_found(store.run_dir(run_id))
        if found.note:
            self._report(f"run {run_id}: TensorBoard event files found; {found.note}")
            note_in_log(store.run_log_path(run_id), f"TensorBoard event files found; {found.note}")
        return list(found)

    def _metric_sources_of(self, store: Store, run_id: str) -> list[MetricSource]:
        try:
            run = store.runs.get(run_id)
        except NotFound:
            return []
        return sources_for(run, store.run_dir(run_id), store.run_log_path(run_id))

    def _ingest_run(
        self, store: Store, run_id: str, sources: list[MetricSource], ended: bool
    ) -> bool:
        """One slice of each source of the run; whether any has more to read now (of an ended
        run: whether any read moved on, so it is read until a read finds nothing)."""
        behind = False
        for source in sources:
            cursor = store.metrics.cursor(run_id, source.name)
            try:
                batch = source.read(cursor, SLICE_POINTS)
            except OSError as exc:  # unreadable (permissions…): said, and tried again later
                self._report(f"run {run_id}: metrics source {source.name} unreadable: {exc}")
                continue
            if batch.cursor == cursor and not batch.points and not batch.malformed:
                continue  # nothing new: no write
            store.metrics.append(
                run_id,
                batch.points,
                source=source.name,
                cursor=batch.cursor,
                malformed=batch.malformed,
            )
            behind |= len(batch.points) >= SLICE_POINTS or ended
        return behind

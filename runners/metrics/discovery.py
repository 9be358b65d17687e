"""Where a run's metrics come from: the sources the agent reads while the run is live.

One line per kind of source: the lead adds TensorBoard event files found in a local run's
folder, system samples, … here, and the agent reads them all the same way (from their stored
cursors, in slices).
"""

from __future__ import annotations

from pathlib import Path

from runners.metrics.jsonl import METRICS_FILE_ENV, METRICS_LINE_PREFIX, JsonLinesSource
from runners.metrics.sources import MetricSource
from store import Run

METRICS_DIR = "metrics"  # in the run's folder: bind-mounted into a container, writable
METRICS_FILE = "metrics.jsonl"


def metrics_file_on_host(run_dir: Path) -> Path:
    """The file LAUNCHBAY_METRICS_FILE names, as this machine sees it (a container sees it
    where its target mounts the run's metrics folder)."""
    return run_dir / METRICS_DIR / METRICS_FILE


def sources_for(run: Run, run_dir: Path, log_path: Path) -> list[MetricSource]:
    """The sources of `run` (its folder `run_dir`, its log `log_path`): its metrics file
    (targets that set LAUNCHBAY_METRICS_FILE) and its log's protocol lines (every target: a
    remote job's output reaches the run's log). Each source's name is stable: its cursor is
    stored under it."""
    sources: list[MetricSource] = [JsonLinesSource("log", log_path, prefix=METRICS_LINE_PREFIX)]
    if (run.spec.get("env") or {}).get(METRICS_FILE_ENV):
        sources.append(JsonLinesSource("file", metrics_file_on_host(run_dir)))
    return sources

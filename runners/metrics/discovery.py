"""Where a run's metrics come from: the sources the agent reads while the run is live.

One line per kind of source: the lead adds TensorBoard event files found in a local run's
folder, system samples, … here, and the agent reads them all the same way (from their stored
cursors, in slices).
"""

from __future__ import annotations

from pathlib import Path

from runners.metrics.jsonl import METRICS_FILE_ENV, METRICS_LINE_PREFIX, JsonLinesSource
from runners.metrics.sampled import SampledSource
from runners.metrics.sources import MetricSource
from runners.metrics.tensorboard import TensorBoardSources, tensorboard_sources
from store import Run

METRICS_DIR = "metrics"  # in the run's folder: bind-mounted into a container, writable
METRICS_FILE = "metrics.jsonl"
SYSTEM_SOURCE = "system"  # CPU, memory: sampled, no cursor
WORK_DIR = "work"  # a local run's working copy, where its code runs (runners/catalog/workspace)


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
    sampler = _system_sampler(run)
    if sampler is not None:
        sources.append(SampledSource(SYSTEM_SOURCE, sampler))
    return sources


def sources_found(run_dir: Path) -> TensorBoardSources:
    """Sources that appear while the run goes, looked for again on each read: the TensorBoard
    event files under a local run's working folder (PyTorch's SummaryWriter and Lightning write
    there by default: no code change). `.note` says once if they can't be read."""
    work = run_dir / WORK_DIR
    return tensorboard_sources(work) if work.is_dir() else TensorBoardSources()


def _system_sampler(run: Run):
    """What samples the run's CPU and memory, once its handle says where it is."""
    if not run.handle:
        return None
    from runners.registry import get_runner

    try:
        return get_runner(run.resource).system_sampler(run.handle)
    except Exception:  # a target that can't be loaded here: no system metrics, said nowhere
        return None

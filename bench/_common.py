"""What the benchmark scripts share: the import path, `--quick`, JSON lines and statistics.

Import this module first, before anything that may import the standard library's `queue`.
"""

import argparse
import contextlib
import json
import statistics
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_BENCH_DIR = REPO / "bench"

# `python bench/X.py` puts bench/ first on sys.path, where bench/queue.py would shadow the
# standard library's `queue` (imported by the agent, huey and concurrent.futures). Drop it,
# and put the repo root there instead so the scripts also work without the editable install.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH_DIR]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def parse_args(description: str) -> argparse.Namespace:
    """The options every script takes: `--quick` for a small N (the smoke test uses it)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small N: seconds, not minutes")
    return parser.parse_args()


def emit(metric: str, value: float, unit: str, **extra) -> None:
    """Print one JSON line: {"metric", "value", "unit", ...extra}."""
    rounded = {k: _round(v) for k, v in extra.items()}
    print(json.dumps({"metric": metric, "value": _round(value), "unit": unit, **rounded}))
    sys.stdout.flush()


def _round(value):
    return round(value, 3) if isinstance(value, float) else value


def filesystem_of(path: str | Path) -> str:
    """The type of the filesystem holding `path` ("ext4", "tmpfs", …), from /proc/mounts."""
    target = Path(path).resolve()
    best, kind = -1, "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    for line in mounts:
        fields = line.split()
        mount_point = Path(fields[1].replace("\\040", " "))
        if target.is_relative_to(mount_point) and len(mount_point.parts) > best:
            best, kind = len(mount_point.parts), fields[2]
    return kind


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], pct: int) -> float:
    """The pct-th percentile, interpolated between samples (with 50 samples p99 is near max)."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


@contextlib.contextmanager
def agent_in_thread(db: Path, queue: str, max_jobs: int = 1):
    """An agent serving `queue` of the store at `db` on a thread of this process (daemon: a
    benchmark that fails never hangs on it); yields the thread, stops the agent after."""
    from runners.agent.loop import Agent

    agent = Agent(db, queues=[queue], max_jobs=max_jobs)
    thread = threading.Thread(target=agent.run, name="bench-agent", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        agent.stop()
        thread.join(timeout=30)


def emit_against_baseline(
    baseline: tuple[str, list[float]],
    ours: tuple[str, list[float]],
    unit: str,
    target_ratio: float,
    **baseline_extra,
) -> None:
    """Two lines: the baseline's samples (median, p90, min, max) and ours, with the ratio of
    the medians against the target (interleaved samples of the same run)."""
    (base_name, base_values), (name, values) = baseline, ours

    def spread(samples: list[float]) -> dict:
        return {
            "p90": percentile(samples, 90),
            "n": len(samples),
            "min": min(samples),
            "max": max(samples),
        }

    base = median(base_values)
    emit(base_name, base, unit, **spread(base_values), **baseline_extra)
    ratio = median(values) / base
    emit(
        name,
        median(values),
        unit,
        **spread(values),
        baseline=base,
        baseline_what=f"{base_name} (median, same run, interleaved)",
        ratio=ratio,
        target=target_ratio,
        met=ratio <= target_ratio,
    )

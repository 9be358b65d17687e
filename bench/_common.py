"""What the benchmark scripts share: the import path, `--quick`, JSON lines and statistics.

Import this module first, before anything that may import the standard library's `queue`.
"""

import argparse
import json
import statistics
import sys
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

"""CLI start-up: wall time of `launchbay queue list` on a small store, as a user runs it.

Baseline, measured in the same run and interleaved with it so that both see the same noise:
`python -c pass` with the same interpreter, i.e. the part of the wall time that is Python's own
start-up and not launchbay's imports and queries.
"""

import _common  # noqa: I001  (first: fixes sys.path so that `queue` is the stdlib's)

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runners.catalog.jobs import create_job
from runners.launch.request import LaunchRequest, enqueue, prepare_launch
from runners.catalog.queues import create_queue
from store import Store

QUEUES = ("cpu", "gpu", "nightly")
WARMUP_RUNS = 2  # the first runs fill the page cache and write .pyc files


def make_store(folder: Path) -> Path:
    """Three queues, a job, and a few waiting items: what a small team's file looks like."""
    db = folder / "lb.db"
    store = Store.open(db)
    try:
        code = folder / "code"
        code.mkdir()
        (code / "main.py").write_text("print('hello')\n")
        create_job(store, "code", "train", str(code))
        for name in QUEUES:
            create_queue(store, name, "local-process")
            prepared = prepare_launch(store, LaunchRequest(job="train", queue=name))
            for _ in range(3):
                enqueue(store, prepared)
    finally:
        store.close()
    return db


def launchbay_command() -> tuple[list[str], str]:
    """The console script beside this interpreter, as installed, else `python -m tui.cli`;
    with the name to report it under."""
    script = Path(sys.executable).parent / "launchbay"
    if script.exists():
        return [str(script)], "launchbay"
    return [sys.executable, "-m", "tui.cli"], "python -m tui.cli"


def wall_time(argv: list[str], expect: str = "") -> float:
    """Seconds from spawn to exit; checks the exit code and that `expect` was printed."""
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0 or expect not in result.stdout:
        raise RuntimeError(f"{argv} failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    runs = 5 if args.quick else 15
    with tempfile.TemporaryDirectory(prefix="lb-bench-cli-") as tmp:
        db = make_store(Path(tmp))
        launchbay, shown_as = launchbay_command()
        command = [*launchbay, "--db", str(db), "queue", "list"]
        baseline_command = [sys.executable, "-c", "pass"]
        cli_ms, baseline_ms = [], []
        for index in range(WARMUP_RUNS + runs):
            # Interleaved: a noisy second hits both series, not one.
            cli = wall_time(command, expect=QUEUES[-1]) * 1000
            baseline = wall_time(baseline_command) * 1000
            if index >= WARMUP_RUNS:
                cli_ms.append(cli)
                baseline_ms.append(baseline)
    median, baseline = _common.median(cli_ms), _common.median(baseline_ms)
    _common.emit(
        "cli.queue_list_wall",
        median,
        "ms",
        n=runs,
        min=min(cli_ms),
        max=max(cli_ms),
        baseline=baseline,
        baseline_what=f"{Path(sys.executable).name} -c pass (median)",
        overhead_ms=median - baseline,
        ratio=median / baseline,
        command=f"{shown_as} --db DB queue list",
        target="<= 300",
        meets_target=median <= 300,
    )


if __name__ == "__main__":
    main()

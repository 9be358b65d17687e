"""Sweeps: the controller's cost per trial, and a sweep's throughput against plain launches.

(a) overhead per trial: suggest + enqueue + record (the trial and its queue item written in one
    transaction, then the trial ended with its objective and the searcher told), through the
    controller's own code on a real store file; medians for grid and random, and for TPE with
    500 finished trials already in the study (its cost grows with them).
(b) a random sweep of a trivial job (`true`), 8 trials in parallel, through a real agent with
    --max-jobs 8, against the same number of plain launches of the same job enqueued at once
    and run by the same agent: total wall time, each from a fresh store, and their ratio.
    The sweep keeps only 8 trials in the queue and adds each next one as one ends, so this
    measures what the controller adds to the agent's passes.

`--quick`: 30 timed trials, TPE over 50 finished ones, 100 runs (the smoke test runs this).
"""

import _common  # noqa: I001  (first: fixes sys.path so that `queue` is the stdlib's)

import tempfile
import time
from pathlib import Path

from runners.agent.loop import Agent
from runners.catalog.jobs import create_job
from runners.catalog.queues import create_queue
from runners.launch.request import LaunchRequest, enqueue, prepare_launch
from runners.sweeps.controller import SweepDriver
from runners.sweeps.create import create_sweep
from runners.sweeps.search import run_config_values
from store import Store

PARAMETERS = {
    "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
    "layers": {"values": [1, 2, 3, 4]},
    "dropout": {"min": 0.0, "max": 0.5},
}


def _store(folder: Path) -> Store:
    store = Store.open(folder / "lb.db")
    create_queue(store, "bench", "local-process")
    job_dir = folder / "job"
    job_dir.mkdir()
    (job_dir / "main.py").write_text("pass\n")
    create_job(store, "code", "trivial", str(job_dir), entrypoint="true")
    return store


def overhead(method: str, finished_before: int, timed: int) -> float:
    """Median seconds per trial for suggest + enqueue + record."""
    config = {"method": method, "metric": {"name": "loss"}, "seed": 1, "parameters": PARAMETERS}
    if method == "grid":
        config["parameters"] = {f"p{i}": {"values": list(range(10))} for i in range(4)}
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp))
        sweep = create_sweep(store, job="trivial", queue="bench", config=config)
        driver = SweepDriver(store, sweep, lambda message: None)
        times = []
        for number in range(finished_before + timed):
            start = time.perf_counter()
            suggested = driver.searcher.suggest(number)
            params = run_config_values(driver.config, suggested)
            launch = driver._launch_for(sweep, params)
            assert store.sweeps.add_trial(sweep, number, params, suggested, launch) is not None
            objective = float(number % 17)
            store.sweeps.end_trial(sweep.id, number, "finished", objective=objective)
            driver.searcher.told(number, "finished", objective)
            if number >= finished_before:
                times.append(time.perf_counter() - start)
        store.close()
    return _common.median(times)


def sweep_vs_launches(runs: int, rounds: int = 3) -> tuple[float, float]:
    """Median seconds for a random sweep of `runs` trials and for `runs` plain launches, over
    `rounds` rounds in alternating order, after an untimed warm-up of each (imports, caches)."""
    swept_sweep(10), plain_launches(10)
    swept, launched = [], []
    for index in range(rounds):
        order = (swept_sweep, plain_launches) if index % 2 == 0 else (plain_launches, swept_sweep)
        for measure in order:
            (swept if measure is swept_sweep else launched).append(measure(runs))
    return _common.median(swept), _common.median(launched)


def swept_sweep(runs: int, parallel: int = 8) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp))
        start = time.perf_counter()
        config = {"method": "random", "run_cap": runs, "parameters": PARAMETERS}
        create_sweep(store, job="trivial", queue="bench", config=config, parallel=parallel)
        Agent(store.path, max_jobs=parallel, until_empty=True).run()
        swept = time.perf_counter() - start
        assert (
            store.conn.execute("SELECT COUNT(*) FROM runs WHERE state = 'finished'").fetchone()[0]
            == runs
        )
        store.close()
    return swept


def plain_launches(runs: int, parallel: int = 8) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp))
        start = time.perf_counter()
        prepared = prepare_launch(store, LaunchRequest(job="trivial", queue="bench"))
        for _ in range(runs):
            enqueue(store, prepared)
        Agent(store.path, max_jobs=parallel, until_empty=True).run()
        launched = time.perf_counter() - start
        store.close()
    return launched


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    timed = 30 if args.quick else 200
    for method in ("grid", "random"):
        seconds = overhead(method, 0, timed)
        _common.emit(f"sweep_overhead_{method}_ms", seconds * 1000, "ms", trials=timed, target_ms=5)
    finished = 50 if args.quick else 500
    seconds = overhead("bayes", finished, 10 if args.quick else 30)
    _common.emit(
        "sweep_overhead_tpe_ms", seconds * 1000, "ms", finished_trials=finished, target_ms=50
    )
    runs = 100 if args.quick else 1000
    swept, launched = sweep_vs_launches(runs, rounds=1 if args.quick else 5)
    _common.emit(
        "sweep_vs_launches_ratio",
        swept / launched,
        "x",
        runs=runs,
        parallel=8,
        sweep_s=swept,
        launches_s=launched,
        target=1.2,
    )


if __name__ == "__main__":
    main()

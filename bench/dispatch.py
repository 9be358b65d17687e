"""Dispatch: how soon an idle agent starts a launched job, and how many jobs/s it gets through.

(a) enqueue -> process started, agent in a thread of this process (woken by the in-process
    signal), sequential launches; median and p99.
(b) the same with the agent as a separate process (`python -m tui.cli agent`), woken by
    inotify on the database file.
(c) throughput: many `/bin/true` jobs through one agent with --max-jobs 8, against the ceiling
    of a bare loop spawning `/bin/true` 8 at a time (and the runner's `sh` wrapper likewise).
    Measured in the system temp dir, then again on tmpfs when /dev/shm is one: each run
    creates ~7 inodes (run dir, unpacked snapshot, config, log, handle, exit file), and on some
    disks that cost depends on history (ext4 without a journal, e.g., skips inodes freed in the
    last minute or more, so a second run right after the first is markedly slower).

Latency is measured on CLOCK_REALTIME in both processes: `time.time()` just before
`store.items.enqueue`, and bash's `$EPOCHREALTIME` as the job's first act, written to a file
named by the launch's argument. The job's entrypoint is the probe itself, so the chain measured
is: wake-up, lease, claim, render, unpack the code snapshot, fork the runner's `sh` wrapper,
which forks the probe. The same wrapper + probe spawned directly is the baseline (the floor).
"""

import _common  # noqa: I001  (first: fixes sys.path so that `queue` is the stdlib's)

import concurrent.futures
import os
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from runners.agent.loop import Agent
from runners.catalog.jobs import create_job
from runners.launch.request import LaunchRequest, PreparedLaunch, enqueue, prepare_launch
from runners.targets.local_process.runner import _WRAPPER as RUNNER_WRAPPER
from runners.catalog.queues import create_queue
from runners.system.wakeup import FileWatch
from store import RunState, Store

QUEUE = "bench"
WARMUP_LAUNCHES = 3  # the first launches import the runner, compile pydantic models, …
SETTLE_SECONDS = 0.05  # between samples, so that each launch finds the agent asleep
STARTED_TIMEOUT = 10.0
NOTE = (
    "for scale: the W&B launch agent polls its queue every 10 s, so its enqueue->start latency"
    " is up to ~10,000 ms"
)


def probe_entrypoint() -> str:
    """A command that writes the wall-clock time at which it started to the file "$0"."""
    if shutil.which("bash"):
        probe = subprocess.run(
            ["bash", "-c", "echo $EPOCHREALTIME"], capture_output=True, text=True, check=False
        )
        if probe.stdout.strip():
            # A bash builtin: no further fork+exec between the job starting and the stamp.
            return "bash -c 'echo $EPOCHREALTIME > \"$0\"'"
    return "sh -c 'date +%s.%N > \"$0\"'"


def make_store(folder: Path, entrypoint: str) -> tuple[Store, PreparedLaunch]:
    """A store with one local-process queue and one code job running `entrypoint`."""
    store = Store.open(folder / "lb.db")
    code = folder / "code"
    code.mkdir()
    (code / "README").write_text("a code job whose entrypoint is a system command\n")
    create_job(store, "code", "probe", str(code), entrypoint=entrypoint)
    create_queue(store, QUEUE, "local-process")
    return store, prepare_launch(store, LaunchRequest(job="probe", queue=QUEUE))


# -- latency ---------------------------------------------------------------------------------


def launch_and_time(store: Store, prepared: PreparedLaunch, stamp: Path) -> float:
    """Enqueue one probe launch; seconds from just before the enqueue to the process start."""
    launch = prepare_launch(
        store, LaunchRequest(job=prepared.job.ref, queue=QUEUE, args=[str(stamp)])
    )
    # Watch before enqueueing, so that no event is missed; wake on the stamp's close.
    watch = FileWatch(stamp.parent, {stamp.name})
    try:
        enqueued_at = time.time()
        item_id = enqueue(store, launch)
        started_at = wait_for_stamp(watch, stamp)
    finally:
        watch.close()
    wait_for_run_end(store, item_id)
    return started_at - enqueued_at


def wait_for_stamp(watch: FileWatch, stamp: Path) -> float:
    """The time written in `stamp`, as soon as it is complete."""
    deadline = time.monotonic() + STARTED_TIMEOUT
    while True:
        try:
            text = stamp.read_text().strip()
            if text:
                return float(text)
        except (FileNotFoundError, ValueError):
            pass  # not there yet, or caught half-written: the close will wake us again
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"the job did not start within {STARTED_TIMEOUT} s ({stamp})")
        select.select([watch.fileno()], [], [], remaining)
        watch.drain()


def wait_for_run_end(store: Store, item_id: int, timeout: float = 30.0) -> None:
    """Block until the item's run has ended, so the next launch finds the agent idle.

    Polls: this is outside the measured window, and it is the harness, not the product."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_id = store.items.get(item_id).run_id
        if run_id is not None:
            run = store.runs.get(run_id)
            if run.state.is_terminal():
                if run.state is not RunState.FINISHED:
                    raise RuntimeError(f"probe run {run_id} ended {run.state}: {run.message}")
                return
        time.sleep(0.005)
    raise RuntimeError(f"item {item_id}: its run did not end within {timeout} s")


def sample_latencies(store: Store, prepared: PreparedLaunch, folder: Path, n: int) -> list[float]:
    """n sequential launches after a few warm-up ones; latencies in ms."""
    stamps = folder / "stamps"
    stamps.mkdir()
    samples = []
    for index in range(WARMUP_LAUNCHES + n):
        time.sleep(SETTLE_SECONDS)
        latency = launch_and_time(store, prepared, stamps / f"started-{index}")
        if index >= WARMUP_LAUNCHES:
            samples.append(latency * 1000)
    return samples


def spawn_latencies(entrypoint: str, folder: Path, n: int) -> list[float]:
    """The floor of (a) and (b): the probe started directly, through the same `sh` wrapper the
    local-process runner uses; ms from just before Popen to the probe's stamp."""
    argv = shlex.split(entrypoint)
    samples = []
    for index in range(WARMUP_LAUNCHES + n):
        time.sleep(SETTLE_SECONDS)
        stamp = folder / f"direct-{index}"
        watch = FileWatch(folder, {stamp.name})
        try:
            spawned_at = time.time()
            process = subprocess.Popen(
                ["/bin/sh", "-c", RUNNER_WRAPPER, "bench", str(folder / "exit"), *argv, str(stamp)],
                start_new_session=True,
            )
            started_at = wait_for_stamp(watch, stamp)
        finally:
            watch.close()
        process.wait()
        if index >= WARMUP_LAUNCHES:
            samples.append((started_at - spawned_at) * 1000)
    return samples


@contextmanager
def agent_process(db: Path, log: Path, store: Store):
    """`launchbay agent` as its own process; yields once it has registered."""
    with open(log, "wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "--db", str(db), "agent", "-q", QUEUE, "--quiet"],
            cwd=_common.REPO,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    try:
        deadline = time.monotonic() + 30
        while not store.agents.not_stopped():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the agent did not start: {log.read_text()[-2000:]}")
            time.sleep(0.01)
        yield process
    finally:
        process.terminate()  # SIGTERM: the agent stops cleanly
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bench_latency(n: int, entrypoint: str, separate_process: bool) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="lb-bench-dispatch-") as tmp:
        folder = Path(tmp)
        store, prepared = make_store(folder, entrypoint)
        try:
            if separate_process:
                agent = agent_process(store.path, folder / "agent.log", store)
            else:
                agent = _common.agent_in_thread(store.path, QUEUE)
            with agent:
                return sample_latencies(store, prepared, folder, n)
        finally:
            store.close()


def report_latency(
    name: str,
    samples: list[float],
    median_target: float,
    baseline: float,
    p99_target: float | None = None,
    **extra,
) -> None:
    median, p99 = _common.median(samples), _common.percentile(samples, 99)
    _common.emit(
        f"dispatch.{name}_latency_median",
        median,
        "ms",
        n=len(samples),
        baseline=baseline,
        baseline_what="the same wrapper + probe spawned directly with subprocess (median)",
        overhead_ms=median - baseline,
        ratio=median / baseline,
        target=f"<= {median_target}",
        meets_target=median <= median_target,
        **extra,
    )
    p99_check = {}
    if p99_target is not None:
        p99_check = {"target": f"<= {p99_target}", "meets_target": p99 <= p99_target}
    _common.emit(
        f"dispatch.{name}_latency_p99", p99, "ms", n=len(samples), max=max(samples), **p99_check
    )


# -- throughput ------------------------------------------------------------------------------


def bench_throughput(n: int, max_jobs: int, tmp_root: str | None) -> tuple[float, dict[str, int]]:
    """n `/bin/true` jobs, enqueued first, then drained by one agent; jobs/s and run states."""
    with tempfile.TemporaryDirectory(prefix="lb-bench-throughput-", dir=tmp_root) as tmp:
        store, prepared = make_store(Path(tmp), "/bin/true")
        try:
            for _ in range(n):
                enqueue(store, prepared)
            agent = Agent(store.path, queues=[QUEUE], max_jobs=max_jobs, until_empty=True)
            start = time.perf_counter()
            agent.run()
            elapsed = time.perf_counter() - start
            states: dict[str, int] = {}
            for run in store.runs.list():
                states[run.state.value] = states.get(run.state.value, 0) + 1
        finally:
            store.close()
    return n / elapsed, states


def bare_spawn_rate(n: int, parallel: int, argv: list[str]) -> float:
    """The ceiling: `argv` run with subprocess, `parallel` at a time; processes/s."""
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        for result in pool.map(lambda _: subprocess.run(argv, check=False), range(n)):
            if result.returncode != 0:
                raise RuntimeError(f"{argv} failed")
    return n / (time.perf_counter() - start)


def tmpfs_root() -> str | None:
    """/dev/shm when it is a writable tmpfs: a second throughput figure there separates the
    agent's own cost from the disk's (creating ~8 inodes per run is cheap on tmpfs)."""
    shm = Path("/dev/shm")
    if _common.filesystem_of(shm) == "tmpfs" and os.access(shm, os.W_OK):
        return str(shm)
    return None


def report_throughput(jobs: int, max_jobs: int) -> None:
    ceiling = bare_spawn_rate(jobs, max_jobs, ["/bin/true"])
    # What the runner can't avoid: its `sh` wrapper, which then forks the job.
    with tempfile.TemporaryDirectory(prefix="lb-bench-spawn-") as tmp:
        wrapped = ["/bin/sh", "-c", RUNNER_WRAPPER, "bench", f"{tmp}/exit", "/bin/true"]
        wrapped_ceiling = bare_spawn_rate(jobs, max_jobs, wrapped)
    places = [("throughput", None)]
    if (shm := tmpfs_root()) is not None:
        places.append(("throughput_tmpfs", shm))
    for name, tmp_root in places:
        rate, states = bench_throughput(jobs, max_jobs, tmp_root)
        _common.emit(
            f"dispatch.{name}",
            rate,
            "jobs/s",
            n=jobs,
            max_jobs=max_jobs,
            run_states=states,
            fs=_common.filesystem_of(Path(tmp_root or tempfile.gettempdir())),
            baseline=ceiling,
            baseline_what=f"bare subprocess.run('/bin/true'), {max_jobs} threads",
            ratio=rate / ceiling,
            baseline_wrapped=wrapped_ceiling,
            baseline_wrapped_what="the runner's sh wrapper running /bin/true, same threads",
            ratio_wrapped=rate / wrapped_ceiling,
            target=">= 150",
            meets_target=rate >= 150 and states.get("finished", 0) == jobs,
        )


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    samples = 10 if args.quick else 50
    jobs = 100 if args.quick else 1000
    entrypoint = probe_entrypoint()
    probe = {"probe": entrypoint.split()[0], "fs": _common.filesystem_of(tempfile.gettempdir())}

    with tempfile.TemporaryDirectory(prefix="lb-bench-spawn-") as tmp:
        direct = _common.median(spawn_latencies(entrypoint, Path(tmp), samples))
    in_thread = bench_latency(samples, entrypoint, separate_process=False)
    report_latency("in_process", in_thread, 20, direct, p99_target=100, **probe, note=NOTE)
    other_process = bench_latency(samples, entrypoint, separate_process=True)
    report_latency("cross_process", other_process, 300, direct, **probe, note=NOTE)

    report_throughput(jobs, max_jobs=8)


if __name__ == "__main__":
    main()

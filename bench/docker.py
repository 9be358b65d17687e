"""Docker: launch -> exit of an image job running `true`, against `docker run --rm IMAGE true`.

(a) baseline: the wall time of `docker run --rm --network none local/busybox:latest true`
    through the docker CLI (spawn to exit; the CLI creates, attaches, starts, waits and, for
    --rm, waits until the engine has removed the container).
(b) launchbay: an image job whose entrypoint is `true` on a docker queue (network none, the
    default), served by an agent in a thread of this process with --max-jobs 1. Measured from
    just before `enqueue` to the moment this thread sees the run `finished` in the store, woken
    by the store's change signal (a ChangeListener, as the agent itself sleeps on). The chain:
    agent wake-up, lease, claim, render, run thread, image check, create (the run config is
    bind-mounted on a local engine; put_archive only for a remote one), start, log pump, wait
    (no inspect after exit code 0), drain of the logs, the `finished` transition. The agent
    removes the container off that path, so the harness waits for the removal after each
    sample (outside the window): the next sample never shares the engine with it.

Target (the issue's): launchbay's median <= 1.2x the CLI's median, both measured in this run.
The two are interleaved, alternating which goes first, so that machine noise hits both alike.
Two costs are in the CLI's figure and not in launchbay's: the CLI's own process start (some
20-30 ms) and the container's removal (--rm waits for it; the agent removes in the background).
So the comparison is, if anything, kind to launchbay.
(c) a breakdown of (b): every Docker API call the runner makes is timed (a wrapper on its
    client's methods, ~1 us per call), reported as each call's median start offset from the
    enqueue and median duration, plus the dispatch (enqueue -> first API call) and the report
    (end of the container wait -> the run seen finished).
"""

import _common  # noqa: I001  (first: fixes sys.path so that `docker` is the SDK, not this file)

import contextlib
import functools
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NoReturn

from runners.agent.changes import ChangeListener
from runners.catalog.jobs import create_job
from runners.launch.request import LaunchRequest, PreparedLaunch, enqueue, prepare_launch
from runners.catalog.queues import create_queue
from runners.registry import get_runner
from store import BadInput, Run, RunState, Stage, Store

IMAGE = "local/busybox:latest"
QUEUE = "bench"
JOB = "truejob"
WARMUP_RUNS = 2  # of each: the first launch imports the SDK and connects; the CLI's page cache
RUN_TIMEOUT = 60.0
TARGET_RATIO = 1.2
# The runner's client methods worth timing (images.get calls inspect_image).
API_CALLS = (
    "inspect_image",
    "create_container",
    "put_archive",
    "start",
    "logs",
    "wait",
    "inspect_container",
    "remove_container",
)
SETUP_HINT = "start the engine and make the images with scripts/services/docker.sh"


# -- checks ----------------------------------------------------------------------------------


def fail_setup(message: str) -> NoReturn:
    print(f"bench/docker.py: {message}; {SETUP_HINT}", file=sys.stderr)
    sys.exit(2)


def check_engine() -> str:
    """The docker CLI's path, once the engine answers and has the image; else exit 2."""
    cli = shutil.which("docker")
    if cli is None:
        fail_setup("no docker CLI on PATH")
    try:
        info = subprocess.run([cli, "info"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        fail_setup("`docker info` did not answer within 30 s")
    if info.returncode != 0:
        fail_setup(f"the Docker engine does not answer ({info.stderr.strip()[-300:]})")
    image = subprocess.run([cli, "image", "inspect", IMAGE], capture_output=True, timeout=30)
    if image.returncode != 0:
        fail_setup(f"the engine has no image {IMAGE}")
    return cli


# -- (a) the CLI -----------------------------------------------------------------------------


def cli_run(cli: str) -> float:
    """Seconds from spawn to exit of `docker run --rm … true`; checks the exit code."""
    argv = [cli, "run", "--rm", "--network", "none", IMAGE, "true"]
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}")
    return elapsed


# -- (b) launchbay ---------------------------------------------------------------------------


class ApiTimer:
    """Wraps the runner's Docker API methods; records (name, start, end) for every call."""

    def __init__(self, api):
        self.calls: list[tuple[str, float, float]] = []  # list.append is atomic: no lock
        for name in API_CALLS:
            setattr(api, name, self._timed(name, getattr(api, name)))

    def _timed(self, name: str, method):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.calls.append((name, start, time.perf_counter()))

        return timed

    def between(self, t0: float, t1: float) -> list[tuple[str, float, float]]:
        return [call for call in self.calls if t0 <= call[1] <= t1]


def make_store(folder: Path) -> tuple[Store, PreparedLaunch]:
    """A store with one docker queue (default network: none) and an image job running true."""
    store = Store.open(folder / "lb.db")
    create_queue(store, QUEUE, "docker", '{"resource_args": {}}')
    create_job(store, "image", JOB, IMAGE, entrypoint="true")
    return store, prepare_launch(store, LaunchRequest(job=JOB, queue=QUEUE))


def launch_and_time(
    store: Store, prepared: PreparedLaunch, listener: ChangeListener, agent: threading.Thread
) -> tuple[float, float, Run]:
    """Enqueue one launch; (t0, t1, run): just before the enqueue, and when its run ended."""
    t0 = time.perf_counter()
    item_id = enqueue(store, prepared)
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        listener.mark_seen()  # before reading: a commit after the read still wakes us
        run = store.runs.find_for_item(item_id)
        if run is not None and run.state.is_terminal():
            t1 = time.perf_counter()
            break
        if not agent.is_alive():
            raise RuntimeError("the agent thread died; see the traceback above")
        if time.monotonic() > deadline:
            state = run.state.value if run else "not claimed"
            raise RuntimeError(f"item {item_id} did not end within {RUN_TIMEOUT} s ({state})")
        listener.wait(min(deadline, time.monotonic() + 1.0))
    if run.state is not RunState.FINISHED or run.exit_code != 0:
        log = store.run_log_path(run.id)
        tail = log.read_text()[-1000:] if log.exists() else "(no log)"
        raise RuntimeError(
            f"run {run.id} ended {run.state.value}, exit code {run.exit_code}: {run.message}\n"
            f"{tail}"
        )
    return t0, t1, run


def wait_removed(api, container_id: str) -> None:
    """Until the agent's background removal of the container is done (outside the window)."""
    from docker.errors import NotFound

    with contextlib.suppress(NotFound):  # NotFound: already gone
        api.wait(container_id, timeout=RUN_TIMEOUT, condition="removed")


# -- (c) the breakdown -----------------------------------------------------------------------


STEP_NOTES = {
    "dispatch": "enqueue -> the runner's first API call (wake-up, lease, claim, render, thread)",
    "report": "end of the container wait -> the run seen finished (inspect, log drain, commit)",
    "logs": "opening the log stream (the pump's thread, alongside the wait)",
    "wait": "POST /wait: start -> the container's exit (the engine's part)",
    "remove_container": "the agent's removal, in the background (off the measured path)",
}


def breakdown(calls: list[tuple[str, float, float]], t0: float, t1: float) -> dict[str, tuple]:
    """One sample's steps: {name: (start offset from t0, duration)} in seconds."""
    steps: dict[str, tuple[float, float]] = {}
    for name, start, end in calls:
        offset, duration = steps.get(name, (start - t0, 0.0))
        steps[name] = (offset, duration + end - start)  # a call made twice: summed
    if calls:
        steps["dispatch"] = (0.0, calls[0][1] - t0)
    waits = [end for name, _, end in calls if name == "wait"]
    if waits:
        steps["report"] = (waits[-1] - t0, t1 - waits[-1])
    return steps


def report_breakdown(samples: list[dict[str, tuple]]) -> None:
    names = {name for steps in samples for name in steps}
    rows = []
    for name in names:
        offsets = [steps[name][0] * 1000 for steps in samples if name in steps]
        durations = [steps[name][1] * 1000 for steps in samples if name in steps]
        rows.append((_common.median(offsets), name, durations))
    for offset, name, durations in sorted(rows):
        _common.emit(
            f"launchbay_docker_step.{name}",
            _common.median(durations),
            "ms",
            p90=_common.percentile(durations, 90),
            n=len(durations),
            starts_at_ms=offset,
            what=STEP_NOTES.get(name, "Docker API call (the runner's client)"),
        )


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    samples = 5 if args.quick else 30
    cli = check_engine()
    cli_ms: list[float] = []
    launchbay_ms: list[float] = []
    steps: list[dict[str, tuple]] = []
    with tempfile.TemporaryDirectory(prefix="lb-bench-docker-") as tmp:
        try:
            store, prepared = make_store(Path(tmp))
            # Connect the runner's client here so that its calls can be timed from the start.
            api = get_runner("docker").engine(Stage.RUN).api
        except BadInput as exc:
            fail_setup(str(exc))
        timer = ApiTimer(api)
        listener = ChangeListener(store)
        try:
            with _common.agent_in_thread(store.path, QUEUE) as agent:
                for index in range(WARMUP_RUNS + samples):
                    cli_first = index % 2 == 0  # alternate, so order favours neither
                    if cli_first:
                        cli_s = cli_run(cli)
                    t0, t1, run = launch_and_time(store, prepared, listener, agent)
                    wait_removed(api, run.handle["container"])
                    if not cli_first:
                        cli_s = cli_run(cli)
                    if index >= WARMUP_RUNS:
                        cli_ms.append(cli_s * 1000)
                        launchbay_ms.append((t1 - t0) * 1000)
                        steps.append(breakdown(timer.between(t0, t1), t0, t1))
        finally:
            listener.close()
            store.close()

    _common.emit_against_baseline(
        ("docker_cli_run_true", cli_ms),
        ("launchbay_docker_launch_to_exit", launchbay_ms),
        "ms",
        TARGET_RATIO,
        command=f"docker run --rm --network none {IMAGE} true",
    )
    report_breakdown(steps)


if __name__ == "__main__":
    main()

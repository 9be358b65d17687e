"""Ray: launch -> running of a trivial code job, against the Jobs API's own submit_job.

(a) baseline: what a user does without launchbay: `JobSubmissionClient.submit_job` with the
    job's folder as working_dir and its command as the entry point (what `ray job submit
    --working-dir DIR -- python main.py` sends), then get_job_status every POLL_SECONDS until
    RUNNING. The client is made once, outside the window, as a script would.
(b) launchbay: the same folder as a code job on a ray queue (poll_seconds POLL_SECONDS), served
    by an agent in a thread of this process. Measured from just before `enqueue` to the moment
    this thread sees the run `running` in the store, woken by the store's change signal. The
    chain: wake-up, lease, claim, render, run thread, the job's code unpacked with its env file
    (a new working_dir package for each run: its env differs), submit_job, status polls.

(c) launchbay's own share of (b): from the enqueue to the return of the runner's submit_job
    (dispatch, claim, render, the code unpacked, the package uploaded), timed by a wrapper on
    the runner's client; the rest of (b) is Ray's (PENDING: the supervisor actor, the
    working_dir downloaded and unpacked on the node) plus the status polls.

Both wait for the job's end after each sample (outside the window), so no two jobs share the
head. They are interleaved, alternating which goes first. Target (the issue's): launchbay's
median <= 1.2x the baseline's. The head is the one scripts/services/ray.sh starts in network
namespace lbray; the script re-runs itself inside that namespace when it is not in it.
"""

import _common  # noqa: I001  (first: fixes sys.path)

import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ADDRESS = "http://127.0.0.1:8265"
NETNS = os.environ.get("LAUNCHBAY_RAY_NETNS", "lbray")
POLL_SECONDS = 0.05
QUEUE, JOB = "bench", "trivial"
SCRIPT = "import time\nprint('up', flush=True)\ntime.sleep(1)\n"
TIMEOUT = 120.0
TARGET_RATIO = 1.2


def head_answers() -> bool:
    try:
        with urllib.request.urlopen(f"{ADDRESS}/api/version", timeout=3):
            return True
    except OSError:
        return False


def enter_the_namespace() -> None:
    """Re-run this script inside the head's namespace (once), where its address answers."""
    if head_answers():
        return
    if os.environ.get("LAUNCHBAY_BENCH_IN_NETNS") or not Path(f"/run/netns/{NETNS}").exists():
        sys.exit(f"no Ray head answers at {ADDRESS}; run scripts/services/ray.sh first")
    env = {**os.environ, "LAUNCHBAY_BENCH_IN_NETNS": "1"}
    sys.exit(subprocess.call(["ip", "netns", "exec", NETNS, sys.executable, *sys.argv], env=env))


def until(condition, what: str):
    deadline = time.monotonic() + TIMEOUT
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {TIMEOUT} s")
        time.sleep(POLL_SECONDS)
    return value


def direct(client, code: Path) -> float:
    """submit_job, then its status until RUNNING; the seconds that took."""
    from ray.job_submission import JobStatus

    t0 = time.perf_counter()
    job = client.submit_job(
        entrypoint=f"{sys.executable} main.py", runtime_env={"working_dir": str(code)}
    )
    until(lambda: client.get_job_status(job) != JobStatus.PENDING, "the direct job running")
    took = time.perf_counter() - t0
    until(lambda: client.get_job_status(job).is_terminal(), "the direct job's end")
    return took


SUBMITTED: list[float] = []  # when the runner's submit_job returned, each launch (c)
ENQUEUED: list[float] = []


def time_the_runners_submits() -> None:
    """Wrap the clients the ray runner makes, so their submit_job calls are timed (c)."""
    from runners.targets.ray import sdk

    connect = sdk.connect

    def timed_connect(*args):
        client = connect(*args)
        submit = client.submit_job

        def submit_job(**kwargs):
            answer = submit(**kwargs)
            SUBMITTED.append(time.perf_counter())
            return answer

        client.submit_job = submit_job
        return client

    sdk.connect = timed_connect


def through_launchbay(store, prepared, listener, agent: threading.Thread) -> float:
    """enqueue, then the run until `running`; the seconds that took."""
    from runners.launch.request import enqueue
    from store import RunState

    t0 = time.perf_counter()
    ENQUEUED.append(t0)
    item = enqueue(store, prepared)
    deadline = time.monotonic() + TIMEOUT
    while True:
        listener.mark_seen()
        run = store.runs.find_for_item(item)
        if run is not None and run.state is not RunState.STARTING:
            took = time.perf_counter() - t0
            break
        if not agent.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"item {item} not running: {run and run.state.value}")
        listener.wait(min(deadline, time.monotonic() + 1.0))
    if run.state is not RunState.RUNNING:
        raise RuntimeError(f"run {run.id} ended {run.state.value}: {run.message}")
    until(lambda: store.runs.get(run.id).state.is_terminal(), "the launched run's end")
    return took


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    enter_the_namespace()
    from ray.job_submission import JobSubmissionClient

    from runners.agent.changes import ChangeListener
    from runners.catalog.jobs import create_job
    from runners.catalog.queues import create_queue
    from runners.launch.request import LaunchRequest, prepare_launch
    from store import Store

    samples = 3 if args.quick else 10
    with tempfile.TemporaryDirectory() as folder:
        code = Path(folder) / "code"
        code.mkdir()
        (code / "main.py").write_text(SCRIPT)
        store = Store.open(Path(folder) / "lb.db")
        target = f'{{"address": "{ADDRESS}", "poll_seconds": {POLL_SECONDS}}}'
        create_queue(store, QUEUE, "ray", f'{{"target": {target}}}')
        create_job(store, "code", JOB, str(code), entrypoint=f"{sys.executable} main.py")
        prepared = prepare_launch(store, LaunchRequest(job=JOB, queue=QUEUE))
        client = JobSubmissionClient(ADDRESS)
        time_the_runners_submits()
        listener = ChangeListener(store)
        direct_times, launchbay_times = [], []
        with _common.agent_in_thread(store.path, QUEUE) as agent:
            direct(client, code)  # warm-up: the package uploaded, ray's worker pool started
            through_launchbay(store, prepared, listener, agent)  # the SDK imported
            for i in range(samples):
                order = [0, 1] if i % 2 == 0 else [1, 0]
                for which in order:
                    if which == 0:
                        direct_times.append(direct(client, code))
                    else:
                        launchbay_times.append(through_launchbay(store, prepared, listener, agent))
        _common.emit_against_baseline(
            ("ray_submit_to_running_direct", direct_times),
            ("ray_launch_to_running", launchbay_times),
            "s",
            TARGET_RATIO,
            samples=samples,
        )
        own = [done - start for start, done in zip(ENQUEUED, SUBMITTED, strict=True)][1:]
        _common.emit("ray_launch_to_submitted", _common.median(own), "s", samples=samples)


if __name__ == "__main__":
    main()

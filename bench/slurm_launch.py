"""Slurm: launch -> running of a trivial job, against `sbatch` directly.

(a) baseline: `sbatch --parsable` of a script running `sleep 1` (its output to a file), then
    `squeue --json` every POLL seconds until the job is RUNNING: what a user (or a script)
    does by hand. Measured from the spawn of sbatch to the first answer saying RUNNING.
(b) launchbay: a code job whose entry point is `sleep 1` on a slurm queue (this machine is the
    login node; target.poll_seconds POLL, the same cadence), served by an agent in a thread of
    this process. Measured from just before `enqueue` to the moment this thread sees the run
    `running` in the store, woken by the store's change signal. The chain: agent wake-up, lease,
    claim, render, run thread, the code unpacked into the run's folder on the cluster, the
    config file and batch script written, sbatch, squeue --json until RUNNING, the transition.

Target (the issue's): launchbay's median <= 1.2x sbatch's median, both measured in this run,
interleaved (alternating which goes first). Each sample's job is waited for to end before the
next one starts (outside the window), so the node is idle at every start.
Needs the cluster of scripts/services/slurm.sh (SLURM_CONF).
"""

import _common  # noqa: I001  (first: fixes sys.path)

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runners.agent.changes import ChangeListener
from runners.catalog.jobs import create_job
from runners.catalog.queues import create_queue
from runners.launch.request import LaunchRequest, enqueue, prepare_launch
from store import RunState, Store

QUEUE = "bench"
JOB = "sleeper"
POLL = 0.1
WARMUP_RUNS = 2
RUN_TIMEOUT = 60.0
TARGET_RATIO = 1.2


def squeue_states() -> dict[str, str]:
    done = subprocess.run(["squeue", "--json"], capture_output=True, check=True)
    return {str(job["job_id"]): job["job_state"] for job in json.loads(done.stdout)["jobs"]}


def wait_state(job_id: str, wanted: set[str]) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        state = squeue_states().get(job_id, "GONE")
        if state in wanted:
            return state
        time.sleep(POLL)
    raise RuntimeError(f"job {job_id} not {wanted} within {RUN_TIMEOUT} s")


def sbatch_to_running(folder: Path, index: int) -> tuple[float, str]:
    script = folder / f"direct-{index}.sbatch"
    script.write_text(f"#!/bin/sh\n#SBATCH --output={folder}/direct-{index}.out\nsleep 1\n")
    start = time.perf_counter()
    done = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, check=True)
    job_id = done.stdout.decode().strip().split(";")[0]
    wait_state(job_id, {"RUNNING"})
    return time.perf_counter() - start, job_id


def launch_to_running(store, prepared, listener) -> tuple[float, str]:
    t0 = time.perf_counter()
    item_id = enqueue(store, prepared)
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        listener.mark_seen()
        run = store.runs.find_for_item(item_id)
        if run is not None and run.state is RunState.RUNNING:
            return time.perf_counter() - t0, run.id
        if run is not None and run.state.is_terminal():
            raise RuntimeError(f"run {run.id} ended {run.state.value}: {run.message}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"item {item_id} not running within {RUN_TIMEOUT} s")
        listener.wait(min(deadline, time.monotonic() + 1.0))


def wait_run_ended(store, run_id: str) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while not store.runs.get(run_id).state.is_terminal():
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} did not end within {RUN_TIMEOUT} s")
        time.sleep(POLL)


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    samples = 5 if args.quick else 20
    os.environ.setdefault("SLURM_CONF", "/var/lib/launchbay-test/slurm/slurm.conf")
    if subprocess.run(["sinfo"], capture_output=True).returncode != 0:
        print("bench/slurm_launch.py: no Slurm cluster; run scripts/services/slurm.sh",
              file=sys.stderr)  # fmt: skip
        sys.exit(2)
    direct_ms: list[float] = []
    launchbay_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="lb-bench-slurm-") as tmp:
        folder = Path(tmp)
        code = folder / "code"
        code.mkdir()
        (code / "README").write_text("a trivial job\n")
        store = Store.open(folder / "lb.db")
        target = {"work_dir": str(folder / "cluster"), "poll_seconds": POLL}
        create_queue(store, QUEUE, "slurm", json.dumps({"target": target}))
        create_job(store, "code", JOB, str(code), entrypoint="sleep 1")
        prepared = prepare_launch(store, LaunchRequest(job=JOB, queue=QUEUE))
        listener = ChangeListener(store)
        try:
            with _common.agent_in_thread(store.path, QUEUE):
                for index in range(WARMUP_RUNS + samples):
                    direct_first = index % 2 == 0
                    if direct_first:
                        direct_s, job_id = sbatch_to_running(folder, index)
                        wait_state(job_id, {"COMPLETED", "GONE"})
                    launchbay_s, run_id = launch_to_running(store, prepared, listener)
                    wait_run_ended(store, run_id)
                    if not direct_first:
                        direct_s, job_id = sbatch_to_running(folder, index)
                        wait_state(job_id, {"COMPLETED", "GONE"})
                    if index >= WARMUP_RUNS:
                        direct_ms.append(direct_s * 1000)
                        launchbay_ms.append(launchbay_s * 1000)
        finally:
            listener.close()
            store.close()
    _common.emit_against_baseline(
        ("slurm_sbatch_to_running", direct_ms),
        ("launchbay_slurm_launch_to_running", launchbay_ms),
        "ms",
        TARGET_RATIO,
        command=f"sbatch --parsable SCRIPT; squeue --json every {POLL} s until RUNNING",
    )


if __name__ == "__main__":
    main()

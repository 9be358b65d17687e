"""What only the slurm target does, against the real single-node cluster of
scripts/services/slurm.sh: hostile args, env and paths reach the job as data, never as shell
code; a pending job's reason is shown as why the run waits; cancel's grace; a job found by its
name, or abandoned; the partition check; bad input; the dry run's batch script. (The contract
is in test_slurm.py; a login node over SSH in test_slurm_ssh.py.)"""

import json
import subprocess
from pathlib import Path

import pytest
from kit import (
    AgentThread,
    launch,
    log_of,
    refusal_checker,
    run_of,
    wait_for,
    write_code_job,
)
from kit.slurm import (
    JOB_PYTHON,
    node_held,
    printed,
    show_args_job,
    slurm_job,
    slurm_queue,
    slurm_target,
)
from test_slurm import Slurm

from runners.agent.cancelling import cancel_by_id
from runners.catalog.jobs import create_job
from runners.registry import get_runner
from runners.targets.remote import RemoteRunner
from runners.targets.slurm.request import batch_script
from runners.targets.slurm.settings import SlurmArgs
from runners.targets.slurm.status import state_of
from store import RunState
from store.runs import new_run_id

pytestmark = pytest.mark.usefixtures("cancel_leftovers")


def test_hostile_args_and_env_reach_the_job_as_data_never_as_shell_code(
    store, db_path, tmp_path, slurm_cluster
):
    canary = tmp_path / "pwned"
    hostile = [
        f"; touch {canary} #",
        f"$(touch {canary})",
        f"`touch {canary}`",
        'it\'s "quoted" \\ too',
        "two\nlines\n#SBATCH --partition=urgent",
        "--flag=$HOME",
        "*",
    ]
    env_value = f"$(touch {canary})'\"; touch {canary}"
    # The run's folder too: its path is in #SBATCH lines, exports and the script's commands.
    work_dir = str(tmp_path / f"it's a cluster $(touch {canary})")
    target = slurm_target(tmp_path, work_dir=work_dir)
    config = {"target": target, "resource_args": {"env": {"HOSTILE": env_value}}}
    slurm_queue(store, "q", config)
    show_args_job(store, tmp_path)
    item = launch(store, "show", "q", spec={"overrides": {"args": hostile}})
    with AgentThread(db_path):
        run = run_of(store, item)
    log = log_of(store, run.id)
    assert run.state is RunState.FINISHED, (run.message, log)
    assert printed(log, "argv") == hostile
    assert printed(log, "env") == env_value
    assert not canary.exists()
    # The "#SBATCH" line inside an arg is no option to sbatch: the job ran in the default
    # partition.
    job = slurm_job(run.handle["job_id"])
    assert job["partition"] == "debug"
    assert job["standard_output"] == f"{work_dir}/{run.id}/output.log"
    assert Path(work_dir, run.id, "exit_code").read_text() == "0\n"


def test_a_pending_jobs_reason_is_shown_as_why_the_run_waits(
    store, db_path, tmp_path, slurm_cluster
):
    backend = Slurm(tmp_path)
    backend.queue(store)
    backend.held_job(store, "waiter")
    with node_held() as blocker:
        item = launch(store, "waiter", "q")
        with AgentThread(db_path):
            run = run_of(store, item, {RunState.STARTING})
            wait_for(
                lambda: "Resources" in (store.runs.get(run.id).message or ""),
                30,
                "the pending reason on the run",
            )
            run = store.runs.get(run.id)
            assert run.state is RunState.STARTING
            assert run.message == "waiting in Slurm's queue: Resources"
            subprocess.run(["scancel", blocker], check=True)
            run = run_of(store, item, {RunState.RUNNING})
            backend.release(store, run)
            run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message


def test_a_pending_job_cancelled_by_launchbay_is_stopped_at_once(
    store, db_path, tmp_path, slurm_cluster
):
    backend = Slurm(tmp_path)
    backend.queue(store)  # a 30 s grace: a pending job has nothing to signal, it goes at once
    backend.held_job(store, "waiter")
    with node_held():
        item = launch(store, "waiter", "q")
        with AgentThread(db_path):
            run = run_of(store, item, {RunState.STARTING})
            wait_for(lambda: store.runs.get(run.id).handle, 30, "the job submitted")
            cancel_by_id(store, run.id)
            run = run_of(store, item)
    assert run.state is RunState.STOPPED, run.message
    assert state_of(slurm_job(run.handle["job_id"])) == "CANCELLED"
    assert "before" not in log_of(store, run.id)


def test_a_partition_the_cluster_lacks_is_refused_at_launch_with_the_list(
    store, db_path, tmp_path, cli, slurm_cluster
):
    slurm_queue(store, "q", {"target": slurm_target(tmp_path)})
    show_args_job(store, tmp_path)
    refused = refusal_checker(cli, db_path)
    spec = json.dumps({"resource_args": {"partition": "gpu-a100"}})
    refused(
        ["launch", "-j", "show", "-q", "q", "-c", spec],
        "resource_args.partition",
        "no partition 'gpu-a100'; expected one of debug, urgent",
    )


def test_bad_resource_args_are_refused_naming_the_key(store, db_path, tmp_path, cli):
    refused = refusal_checker(cli, db_path)
    for args, fragments in (
        ({"array": "1-100"}, ("resource_args.array", "unknown key; expected one of partition")),
        ({"time": "forever"}, ("resource_args.time", "expected a Slurm time")),
        ({"mem": "lots"}, ("resource_args.mem", "expected a size")),
        ({"account": "a; rm -rf ~"}, ("resource_args.account", "expected one word")),
        ({"env": {"A B": "1"}}, ("resource_args.env", "not an environment variable name")),
    ):
        config = tmp_path / "queue.json"
        config.write_text(json.dumps({"resource_args": args}))
        refused(
            ["queue", "create", "q", "--resource", "slurm", "--config", str(config)], *fragments
        )
    config.write_text(json.dumps({"target": {"ssh": "-oProxyCommand=x"}}))
    refused(
        ["queue", "create", "q", "--resource", "slurm", "--config", str(config)],
        "target.ssh",
        "expected user@host",
    )


def test_slurms_time_formats_are_accepted(store, tmp_path):
    for time in (90, "90", "10:00", "1:30:00", "2-00", "2-12:00", "2-00:00:00", "unlimited"):
        slurm_queue(store, f"q{len(store.queues.list())}", {"resource_args": {"time": time}})


def test_an_image_job_is_refused_on_a_slurm_queue(store, db_path, tmp_path, cli):
    slurm_queue(store, "q", {"target": slurm_target(tmp_path)})
    create_job(store, "image", "img", "python:3.11-slim")
    refused = refusal_checker(cli, db_path)
    refused(["launch", "-j", "img", "-q", "q"], "job", "image job; a slurm queue runs code")


def test_the_dry_run_shows_the_exact_batch_script_with_secrets_hidden(store, tmp_path, cli):
    queue = {
        "target": slurm_target(tmp_path),
        "resource_args": {
            "cpus-per-task": 4,
            "mem": "16G",
            "time": "1:00:00",
            "exclusive": True,
            "env": {"HF_TOKEN": "hf_abcdefghijk"},
        },
    }
    slurm_queue(store, "q", queue)
    show_args_job(store, tmp_path)
    result = cli("launch", "-j", "show", "-q", "q", "-a", "--lr 0.1", "--dry-run")
    assert result.code == 0, result.err
    script = json.loads(result.out)["submission"]["batch_script"]
    folder = f"{tmp_path}/cluster/dryrun00"
    assert script.splitlines()[:10] == [
        "#!/bin/sh",
        "#SBATCH --job-name=launchbay-dryrun00",
        "#SBATCH --comment=launchbay-run-id=dryrun00",
        f"#SBATCH --output={folder}/output.log",
        f"#SBATCH --chdir={folder}/work",
        "#SBATCH --no-requeue",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=16G",
        "#SBATCH --time=1:00:00",
        "#SBATCH --exclusive",
    ]
    assert f"export LAUNCHBAY_CONFIG_FILE={folder}/config.json" in script
    assert f"{JOB_PYTHON} main.py --lr 0.1\n" in script
    assert "export HF_TOKEN=***" in script
    assert "hf_abcdefghijk" not in result.out


STUBBORN = """
import signal, time
def ignored(signum, frame):
    print("got SIGTERM, going on", flush=True)
signal.signal(signal.SIGTERM, ignored)
print("before", flush=True)
while True:
    time.sleep(0.1)
"""


def test_a_job_that_ignores_sigterm_is_killed_by_slurm_after_the_grace(
    store, db_path, tmp_path, slurm_cluster
):
    config = {"target": slurm_target(tmp_path), "resource_args": {"stop_grace_seconds": 1}}
    slurm_queue(store, "q", config)
    folder = write_code_job(tmp_path / "src-stubborn", STUBBORN)
    create_job(store, "code", "stubborn", str(folder), entrypoint=f"{JOB_PYTHON} main.py")
    item = launch(store, "stubborn", "q")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        wait_for(lambda: "before" in log_of(store, run.id), 30, "the job's first line")
        cancel_by_id(store, run.id)
        run = run_of(store, item)
    assert run.state is RunState.STOPPED, run.message
    assert "got SIGTERM, going on" in log_of(store, run.id)
    assert state_of(slurm_job(run.handle["job_id"])) in ("CANCELLED", "FAILED")


def test_a_job_whose_id_was_never_recorded_is_found_by_its_name(
    store, db_path, tmp_path, slurm_cluster
):
    backend = Slurm(tmp_path)
    backend.queue(store)
    backend.held_job(store, "lost")
    item = launch(store, "lost", "q")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        backend.release(store, run)
        run = run_of(store, item)
    # As if the agent died between sbatch and recording the job's id.
    handle_file = store.run_dir(run.id) / "handle.json"
    handle = json.loads(handle_file.read_text())
    handle_file.write_text(json.dumps({**handle, "job_id": None}))
    found = get_runner("slurm").find(run.id, store.run_dir(run.id))
    assert found["job_id"] == run.handle["job_id"]
    assert json.loads(handle_file.read_text())["job_id"] == run.handle["job_id"]
    assert get_runner("slurm").find("neverran", tmp_path / "neverran") is None


def test_an_abandoned_run_never_starts_even_if_its_sbatch_lands_late(
    store, tmp_path, slurm_cluster
):
    runner = get_runner("slurm")
    run_dir = tmp_path / "run"
    # Run ids unique to this test run: Slurm keeps earlier runs' jobs, by name, for MinJobAge.
    late, started = new_run_id(), new_run_id()
    folder = f"{tmp_path}/cluster/{late}"
    # The agent died after recording the handle, before sbatch answered: nothing in the queue.
    RemoteRunner.record_handle(
        run_dir, {"job_id": None, "run_id": late, "target": {}, "folder": folder}
    )
    assert runner.find(late, run_dir) is None
    assert runner.abandon(late, run_dir) is True
    assert runner.abandon(late, run_dir) is True  # asked again: still ours
    # The sbatch lands after all: its job exits at once, without running the job.
    spec = {"run_id": late, "env": {}, "entry_point": ["echo", "the job ran"], "args": []}
    script = tmp_path / "late.sbatch"
    script.write_text(batch_script(spec, SlurmArgs(), folder))
    Path(folder, "work").mkdir(parents=True)
    job_id = (
        subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )
    wait_for(lambda: state_of(slurm_job(job_id)) == "FAILED", 30, "the late job's end")
    assert slurm_job(job_id)["exit_code"] == 125 << 8
    assert "the job ran" not in Path(folder, "output.log").read_text()
    # A run whose job claimed the start first is not abandoned.
    started_dir = tmp_path / "run2"
    other = f"{tmp_path}/cluster/{started}"
    RemoteRunner.record_handle(
        started_dir, {"job_id": None, "run_id": started, "target": {}, "folder": other}
    )
    Path(other, "started").mkdir(parents=True)
    assert runner.abandon(started, started_dir) is False


def test_a_local_sbatch_passes_the_job_none_of_the_agents_secrets(
    store, db_path, tmp_path, slurm_cluster, monkeypatch
):
    # sbatch hands the job its own environment: the agent's must not reach it.
    monkeypatch.setenv("HOSTILE", "the agent's AWS secret")
    slurm_queue(store, "q", {"target": slurm_target(tmp_path)})
    show_args_job(store, tmp_path)
    item = launch(store, "show", "q")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    assert printed(log_of(store, run.id), "env") is None

"""The slurm target with its cluster's login node over SSH: the system's ssh, a key the test
makes and an ssh config naming a Host, against the real sshd on 127.0.0.1 that
scripts/services/slurm.sh starts (and the real cluster behind it)."""

import json
import subprocess

import pytest
import yaml
from contract_backend import job_lines
from kit import REPO, AgentThread, git, launch, log_of, refusal_checker, run_of, wait_for
from kit.slurm import JOB_PYTHON, SSH_HOST, printed, show_args_job, slurm_queue, slurm_target
from test_slurm import Slurm

from runners.catalog.jobs import create_job
from runners.registry import get_runner
from store import RunState

pytestmark = pytest.mark.usefixtures("cancel_leftovers")


def test_a_login_node_over_ssh_gets_the_code_and_runs_the_job(store, db_path, tmp_path, ssh_login):
    target = slurm_target(tmp_path, ssh=SSH_HOST, ssh_config=str(ssh_login))
    slurm_queue(store, "q", {"target": target, "resource_args": {"env": {"HOSTILE": "x y"}}})
    show_args_job(store, tmp_path)
    item = launch(store, "show", "q", spec={"overrides": {"args": ["a b", "$(c)"]}})
    with AgentThread(db_path):
        run = run_of(store, item)
    log = log_of(store, run.id)
    assert run.state is RunState.FINISHED, (run.message, log)
    assert printed(log, "argv") == ["a b", "$(c)"]
    assert printed(log, "env") == "x y"
    # Copied over ssh into the run's folder there (this machine's filesystem, here).
    folder = tmp_path / "cluster" / run.id
    assert (folder / "work" / "main.py").read_text() == (
        tmp_path / "src-show" / "main.py"
    ).read_text()
    assert (folder / "exit_code").read_text().strip() == "0"
    assert run.handle["target"]["ssh"] == SSH_HOST


def test_an_unreachable_login_node_fails_the_run_at_stage_run_saying_where(
    store, db_path, tmp_path, ssh_login
):
    config = ssh_login.read_text().replace("Port ", "Port 1")  # a port nothing listens on
    ssh_login.write_text(config)
    target = slurm_target(tmp_path, ssh=SSH_HOST, ssh_config=str(ssh_login))
    slurm_queue(store, "q", {"target": target})
    show_args_job(store, tmp_path)
    item = launch(store, "show", "q")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FAILED
    assert run.error_stage == "run"
    assert f"cannot reach {SSH_HOST} over ssh" in run.error_message


def test_the_readmes_example_queue_is_taken_and_its_partition_checked_over_ssh(
    store, db_path, tmp_path, cli, ssh_login
):
    readme = (REPO / "README.md").read_text()
    example = readme.split("### Slurm queues", 1)[1].split("```yaml", 1)[1].split("```")[0]
    config = yaml.safe_load(example)
    # The login node is the test's sshd; its cluster has no partition `gpu`.
    config["target"].update(ssh=SSH_HOST, ssh_config=str(ssh_login), work_dir=str(tmp_path))
    refused = refusal_checker(cli, db_path)
    refused(
        ["queue", "create", "hpc", "-r", "slurm", "-c", json.dumps(config)],
        "resource_args.partition",
        "no partition 'gpu'; expected one of debug, urgent",
    )
    config["resource_args"]["partition"] = "debug"
    result = cli("queue", "create", "hpc", "-r", "slurm", "-c", json.dumps(config))
    assert result.code == 0, result.err
    show_args_job(store, tmp_path)
    result = cli("launch", "-j", "show", "-q", "hpc", "--dry-run")
    assert result.code == 0, result.err
    script = json.loads(result.out)["submission"]["batch_script"]
    for line in ("--partition=debug", "--cpus-per-task=8", "--gpus=2", "--time=1-00:00:00"):
        assert f"#SBATCH {line}\n" in script


def test_a_git_job_is_checked_out_and_copied_to_the_login_node(store, db_path, tmp_path, ssh_login):
    repo = tmp_path / "repo"
    (repo / "train").mkdir(parents=True)
    (repo / "train" / "main.py").write_text("import os\nprint('from git in', os.getcwd())\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "train")
    target = slurm_target(tmp_path, ssh=SSH_HOST, ssh_config=str(ssh_login))
    slurm_queue(store, "q", {"target": target})
    create_job(store, "git", "gitjob", f"file://{repo}", entrypoint=f"{JOB_PYTHON} train/main.py")
    item = launch(store, "gitjob", "q")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, (run.message, log_of(store, run.id))
    assert f"from git in {tmp_path}/cluster/{run.id}/work" in log_of(store, run.id)


def test_a_login_node_away_for_a_while_leaves_the_run_running_saying_so(
    store, db_path, tmp_path, ssh_login
):
    backend = Slurm(tmp_path)
    target = slurm_target(tmp_path, ssh=SSH_HOST, ssh_config=str(ssh_login))
    env = {"GO_DIR": str(backend.go_dir)}
    slurm_queue(store, "q", {"target": target, "resource_args": {"env": env}})
    backend.held_job(store, "long")
    item = launch(store, "long", "q")
    reachable = ssh_login.read_text()
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        wait_for(lambda: "before" in log_of(store, run.id), 30, "the job's first line")
        # The login node goes away: no new connection gets through, and the shared one ends.
        ssh_login.write_text(reachable.replace("Port ", "Port 1"))
        cluster = get_runner("slurm")._cluster(target)  # its connection, to end it
        subprocess.run(
            ["ssh", "-F", str(ssh_login), "-o", f"ControlPath={cluster._control_dir()}/%C",
             "-O", "exit", SSH_HOST],
            capture_output=True, check=False,
        )  # fmt: skip
        wait_for(
            lambda: "cannot read Slurm's queue for now" in (store.runs.get(run.id).message or ""),
            60,
            "the run saying its queue can't be read",
        )
        assert store.runs.get(run.id).state is RunState.RUNNING
        assert f"cannot reach {SSH_HOST} over ssh" in store.runs.get(run.id).message
        ssh_login.write_text(reachable)  # back
        backend.release(store, run)
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    assert job_lines(log_of(store, run.id))[-1] == "after"

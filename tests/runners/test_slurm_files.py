"""A slurm run's files (`runs files`, `runs cp`): on a cluster reached without ssh, the job's
folder under the queue's work_dir is on this machine and listed as a local run's is; over ssh
it is on the login node, and `runs files` says so and where."""

import json

import pytest
from kit import AgentThread, launch, run_of, write_code_job
from kit.slurm import JOB_PYTHON, slurm_queue, slurm_target

from runners.catalog.jobs import create_job
from runners.registry import get_runner
from store import RunState

WRITES_OUTPUTS = """\
import os
os.makedirs("outputs/ckpt")
with open("outputs/ckpt/model.bin", "wb") as f:
    f.write(bytes(range(256)) * 8)
print("done")
"""


@pytest.mark.usefixtures("cancel_leftovers")
def test_a_local_clusters_run_lists_its_folder_and_copies_what_the_job_wrote(
    store, db_path, tmp_path, cli, slurm_cluster
):
    slurm_queue(store, "q", {"target": slurm_target(tmp_path)})
    folder = write_code_job(tmp_path / "src", WRITES_OUTPUTS)
    create_job(store, "code", "writer", str(folder), entrypoint=f"{JOB_PYTHON} main.py")
    item = launch(store, "writer", "q")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message

    listed = json.loads(cli("runs", "files", run.id, "--json").out)
    files = {f["path"]: f for f in listed["files"]}
    assert files["work/outputs/ckpt/model.bin"]["size"] == 2048
    assert {"config.json", "job.sbatch", "output.log", "exit_code"} <= files.keys()
    assert listed["note"] is None
    dest = tmp_path / "model.bin"
    assert cli("runs", "cp", run.id, "work/outputs/ckpt/model.bin", str(dest)).code == 0
    assert dest.read_bytes() == bytes(range(256)) * 8


def test_a_run_over_ssh_is_not_listed_and_says_where_its_folder_is(tmp_path):
    runner = get_runner("slurm")
    runner.record_handle(tmp_path, {"folder": "/home/me/launchbay-runs/r1", "job_id": "7"})
    files = runner.run_files({"target": {"ssh": "me@login.cluster"}}, tmp_path)
    assert files.root is None
    assert files.note == (
        "slurm runs' files are not listed yet over ssh: they are on me@login.cluster in"
        " /home/me/launchbay-runs/r1 (only the run's log is copied here)"
    )

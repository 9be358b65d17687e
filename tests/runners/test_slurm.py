"""The slurm resource against a real single-node Slurm 22.05 cluster (slurmctld, slurmd, munge,
started by scripts/services/slurm.sh): the contract (TestContract, see contract.py) — runs are
real batch jobs, preempted for real by a job of a higher-tier partition — and what only slurm
does is in test_slurm_target.py."""

import subprocess

import pytest
from contract import RunnerContract
from contract_backend import Backend, seen_in_log
from kit import write_code_job
from kit.slurm import JOB_PYTHON, cancel_jobs_under, preempt_node, slurm_queue
from test_local_process import HELD_JOB

from runners.catalog.jobs import create_job
from runners.targets.slurm.status import CANCELLED_OUTSIDE


class Slurm(Backend):
    resource = "slurm"
    failure_says = "exited with code 3"
    vanished_says = CANCELLED_OUTSIDE  # scancel by someone else: the job's record stays
    escape = (
        {"account": "lab"},
        {"account": "someone-else"},
        ("resource_args.account", "only in the queue's own config"),
    )
    preemptible = True  # by a job of the higher-tier partition `urgent`

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.go_dir = tmp_path / "go"
        self.go_dir.mkdir()

    def target(self) -> dict:
        return {
            "work_dir": str(self.tmp_path / "cluster"),
            "poll_seconds": 0.2,
            "log_poll_seconds": 0.2,
        }

    def queue(self, store, resource_args=None, **extra):
        resource_args = dict(resource_args or {})
        resource_args["env"] = {"GO_DIR": str(self.go_dir), **resource_args.get("env", {})}
        resource_args.setdefault("stop_grace_seconds", 30)
        config = {"resource_args": resource_args, "target": self.target(), **extra}
        slurm_queue(store, "q", config)

    def held_job(self, store, name, exit_code=0):
        folder = write_code_job(self.tmp_path / f"src-{name}", HELD_JOB.format(exit_code=exit_code))
        create_job(store, "code", name, str(folder), entrypoint=f"{JOB_PYTHON} main.py")

    def release(self, store, run):
        (self.go_dir / run.id).touch()

    def seen(self, store, run):
        return seen_in_log(store, run)

    def vanish(self, store, run):
        subprocess.run(["scancel", run.handle["job_id"]], check=True)

    def preempt(self, store, run):
        preempt_node()

    def check_failed(self, store, run):
        assert run.exit_code == 3
        assert f"Slurm job {run.handle['job_id']} failed" in run.error_message

    def check_finished(self, store, run):
        assert run.exit_code == 0
        assert run.handle["folder"] == f"{self.tmp_path}/cluster/{run.id}"


@pytest.fixture
def backend(tmp_path, slurm_cluster):
    yield Slurm(tmp_path)
    cancel_jobs_under(tmp_path)  # a failed test's jobs must not hold the node for the next


class TestContract(RunnerContract):
    backend_class = Slurm

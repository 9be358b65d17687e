"""The local-process resource in the contract: real processes, started by the agent in their own
session; they outlive an agent that is killed (tests/runners/contract.py)."""

import sys

import pytest
from contract import RunnerContract
from contract_backend import HELD_PYTHON_START, Backend, seen_in_log
from kit import make_queue, write_code_job

from runners.catalog.jobs import create_job

HELD_JOB = (
    HELD_PYTHON_START
    + """while not os.path.exists(go):
    time.sleep(0.05)
print("after", flush=True)
sys.exit({exit_code})
"""
)


class LocalProcess(Backend):
    resource = "local-process"
    failure_says = "exited with code 3"
    has_remote_object = False  # a process of this machine: nothing to delete elsewhere
    escape = (
        {"inherit_env": ["HOME"]},
        {"inherit_env": True},
        ("resource_args.inherit_env", "may not ask for more"),
    )

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.go_dir = tmp_path / "go"
        self.go_dir.mkdir()

    def queue(self, store, resource_args=None, **extra):
        resource_args = dict(resource_args or {})
        resource_args["env"] = {"GO_DIR": str(self.go_dir), **resource_args.get("env", {})}
        resource_args.setdefault("stop_grace_seconds", 30)
        make_queue(store, "q", config={"resource_args": resource_args, **extra})

    def held_job(self, store, name, exit_code=0):
        folder = write_code_job(self.tmp_path / f"src-{name}", HELD_JOB.format(exit_code=exit_code))
        create_job(store, "code", name, str(folder), entrypoint=f"{sys.executable} main.py")

    def release(self, store, run):
        (self.go_dir / run.id).touch()

    def seen(self, store, run):
        return seen_in_log(store, run)

    def check_failed(self, store, run):
        assert run.exit_code == 3


@pytest.fixture
def backend(tmp_path):
    return LocalProcess(tmp_path)


class TestContract(RunnerContract):
    backend_class = LocalProcess

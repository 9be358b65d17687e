"""The real single-node Slurm cluster and the sshd on 127.0.0.1 that scripts/services/slurm.sh
starts, for the slurm target's tests: fixtures, a queue on it, and what Slurm says of a job."""

import contextlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from runners.targets.slurm.status import state_of
from store import Store

STATE = Path(os.environ.get("LAUNCHBAY_SLURM_STATE", "/var/lib/launchbay-test/slurm"))
SSH_PORT = int(os.environ.get("LAUNCHBAY_SSH_PORT", "2222"))
SSH_HOST = "launchbay-test-login"
"""The Host alias of the test's ssh config (what a user's ~/.ssh/config would name)."""
JOB_PYTHON = "python3"
"""The interpreter of the test jobs, found on the job's PATH on the cluster."""
SHOW_ARGS = """
import json, os, sys
print("argv=" + json.dumps(sys.argv[1:]), flush=True)
print("env=" + json.dumps(os.environ.get("HOSTILE")), flush=True)
"""
"""A job printing its args and $HOSTILE as JSON lines (`argv=…`, `env=…`)."""


@pytest.fixture(scope="session")
def slurm_cluster():
    """The cluster's clients set up (SLURM_CONF); missing, it is a failure (never a skip): CI
    must have it."""
    os.environ.setdefault("SLURM_CONF", str(STATE / "slurm.conf"))
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%R %t"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"no Slurm cluster ({exc}); run scripts/services/slurm.sh")
    if done.returncode != 0 or b"debug" not in done.stdout:
        pytest.fail(f"no Slurm cluster: {done.stderr.decode()}; run scripts/services/slurm.sh")
    return os.environ["SLURM_CONF"]


@pytest.fixture
def ssh_login(slurm_cluster, tmp_path):
    """An ssh config file whose Host SSH_HOST is the test sshd, with a key made here and
    authorised for this test only."""
    key = tmp_path / "ssh" / "id_ed25519"
    key.parent.mkdir(mode=0o700)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"launchbay-test-{os.getpid()}",
         "-f", str(key)],
        check=True,
    )  # fmt: skip
    line = key.with_suffix(".pub").read_text()
    authorized = STATE / "ssh" / "authorized_keys"
    with open(authorized, "a") as f:
        f.write(line)
    config = key.parent / "config"
    config.write_text(
        f"Host {SSH_HOST}\n"
        f"  HostName 127.0.0.1\n  Port {SSH_PORT}\n  User root\n"
        f"  IdentityFile {key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {key.parent / 'known_hosts'}\n"
        "  StrictHostKeyChecking accept-new\n"
    )
    yield config
    kept = [k for k in authorized.read_text().splitlines(True) if k != line]
    authorized.write_text("".join(kept))


def cancel_jobs_under(folder: Path) -> None:
    """Cancel the jobs whose output goes under `folder` (a test's own, left by a failure)."""
    done = subprocess.run(["squeue", "--json"], capture_output=True, check=True)
    for job in json.loads(done.stdout)["jobs"]:
        ours = str(job.get("standard_output", "")).startswith(f"{folder}/")
        if ours and state_of(job) in ("PENDING", "RUNNING", "SUSPENDED"):
            subprocess.run(["scancel", str(job["job_id"])], check=False)


@pytest.fixture
def cancel_leftovers(tmp_path):
    """After the test: its jobs still queued or running are cancelled (a failed test's jobs
    must not hold the node for the next)."""
    yield
    cancel_jobs_under(tmp_path)


def slurm_target(tmp_path: Path, **extra) -> dict:
    """A queue's target: runs under tmp_path/cluster, looked at every 0.2 s."""
    return {
        "work_dir": str(tmp_path / "cluster"),
        "poll_seconds": 0.2,
        "log_poll_seconds": 0.2,
        **extra,
    }


def show_args_job(store: Store, tmp_path: Path, name: str = "show") -> None:
    from kit.jobs import write_code_job
    from runners.catalog.jobs import create_job

    folder = write_code_job(tmp_path / f"src-{name}", SHOW_ARGS)
    create_job(store, "code", name, str(folder), entrypoint=f"{JOB_PYTHON} main.py")


def printed(log: str, key: str):
    """What SHOW_ARGS printed after `key=`."""
    line = next(line for line in log.splitlines() if line.startswith(f"{key}="))
    return json.loads(line.split("=", 1)[1])


def slurm_queue(store: Store, name: str, config: dict | None = None):
    from runners.catalog.queues import check_queue_config

    return store.queues.create(name, "slurm", check_queue_config("slurm", config or {}))


def slurm_job(job_id: str) -> dict | None:
    """Slurm's record of a job (squeue --json), None once it has forgotten it."""
    done = subprocess.run(["squeue", "--json"], capture_output=True, check=True)
    jobs = {str(job["job_id"]): job for job in json.loads(done.stdout)["jobs"]}
    return jobs.get(str(job_id))


@contextlib.contextmanager
def node_held():
    """Another user's job holding the whole node (same partition, same priority) while the
    block runs: jobs submitted meanwhile wait for Resources. Yields its job id."""
    from kit.waiting import wait_for

    blocker = subprocess.run(
        ["sbatch", "--parsable", "--exclusive", "-o", "/dev/null", "--wrap", "sleep 300"],
        capture_output=True, check=True,
    ).stdout.decode().strip()  # fmt: skip
    try:
        wait_for(lambda: state_of(slurm_job(blocker)) == "RUNNING", 30, "the blocker runs")
        yield blocker
    finally:
        subprocess.run(["scancel", blocker], check=False)


def preempt_node(partition: str = "urgent") -> str:
    """A job in `partition` (a higher PriorityTier) that wants the whole node: Slurm preempts
    the debug partition's jobs for it. Returns its job id."""
    done = subprocess.run(
        ["sbatch", "--parsable", "-p", partition, "--exclusive", "-o", "/dev/null",
         "--wrap", "sleep 1"],
        capture_output=True, check=True,
    )  # fmt: skip
    return done.stdout.decode().strip()

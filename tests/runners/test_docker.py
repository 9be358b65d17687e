"""The docker resource against a real engine: the contract (TestContract, see contract.py), and
what only docker does: limits, builds from Dockerfiles, kept containers, pulls, GPUs.

The engine, the base images and the registry come from scripts/services/docker.sh (run by the
test command); nothing here is pulled from the internet.
"""

import time
import zipfile

import pytest
from contract import RunnerContract
from contract_backend import GIVEN_LINES, Backend, held_shell_script, seen_in_log
from kit import (
    PYTHON,
    REGISTRY,
    AgentThread,
    agent_killed_after,
    containers_of,
    containers_removed_after,  # noqa: F401  (a fixture)
    docker_queue,
    git,
    image_job,
    launch,
    log_of,
    registry_tags,
    run_of,
    wait_for,
    write_code_job,
)

from runners.agent.cancelling import cancel_by_id
from runners.catalog.jobs import create_job
from store import RunState

pytestmark = pytest.mark.usefixtures("engine", "containers_removed_after")


def test_an_image_job_runs_with_its_env_and_limits_applied_inside_the_container(store, db_path):
    docker_queue(
        store,
        config={
            "resource_args": {
                "memory": "96m",
                "cpus": 0.5,
                "pids_limit": 77,
                "shm_size": "32m",
                "ulimits": {"nofile": {"soft": 1024, "hard": 2048}},
                "env": {"GREETING": "hello from the queue"},
                "labels": {"team": "vision"},
            }
        },
    )
    # cgroup v1 and v2 name the files differently; print whichever exists.
    image_job(
        store,
        "probe",
        "echo greeting=$GREETING; echo run=$LAUNCHBAY_RUN_ID;"
        " cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null"
        " | sed 's/^/memory=/';"
        " cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null"
        " | sed 's/^/cpu=/';"
        " cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null | sed 's/^/pids=/';"
        " echo nofile=$(ulimit -n); df -k /dev/shm | tail -1 | awk '{print \"shm=\" $2}';"
        " cat /launchbay/config.json | tr -d ' \\n'; echo; echo to-stderr >&2",
    )
    item = launch(
        store,
        "probe",
        "dock",
        spec={"overrides": {"run_config": {"lr": 0.5}}, "resource_args": {"env": {"EXTRA": "1"}}},
    )
    with AgentThread(db_path):
        run = run_of(store, item)
    log = log_of(store, run.id)
    assert run.state is RunState.FINISHED, (run.message, log)
    assert run.exit_code == 0
    assert "greeting=hello from the queue" in log
    assert f"run={run.id}" in log
    assert "memory=100663296" in log  # 96 MiB
    assert "cpu=50000" in log  # half of the 100 ms period (v2 prints "50000 100000")
    assert "pids=77" in log
    assert "nofile=1024" in log
    assert "shm=32768" in log
    assert '{"lr":0.5}' in log  # the run config as a file in the container
    assert "to-stderr" in log  # stderr is in the log too
    assert run.handle["container"]


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace(store, db_path, engine):
    docker_queue(store, config={"resource_args": {"stop_grace_seconds": 1}})
    image_job(store, "stubborn", "trap '' TERM; echo started; sleep 300")
    item = launch(store, "stubborn", "dock")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        wait_for(lambda: "started" in log_of(store, run.id), 30, "the job's first line")
        cancel_by_id(store, run.id)
        # Still there after SIGTERM; only the SIGKILL at the grace's end stops it (else the
        # run would wait out its sleep, past this wait).
        run = run_of(store, item, timeout=60)
    assert run.state is RunState.STOPPED, run.message
    wait_for(lambda: not containers_of(engine, run.id), 30, "the container to be removed")


def test_a_failed_run_keeps_its_container_only_when_the_queue_says_so(store, db_path, engine):
    docker_queue(store, "keep", config={"resource_args": {"keep_failed_containers": True}})
    docker_queue(store, "tidy")
    image_job(store, "fails", "echo oops; exit 3")
    kept_item = launch(store, "fails", "keep")
    tidy_item = launch(store, "fails", "tidy")
    with AgentThread(db_path, max_jobs=2):
        kept, tidy = run_of(store, kept_item), run_of(store, tidy_item)
    for run in (kept, tidy):
        assert run.state is RunState.FAILED
        assert run.exit_code == 3
        assert run.error_stage == "run"
        assert "exited with code 3" in run.error_message
        assert "oops" in log_of(store, run.id)
    wait_for(lambda: not containers_of(engine, tidy.id), 30, "the tidy queue's container removed")
    (container,) = containers_of(engine, kept.id)
    engine.api.remove_container(container["Id"], force=True)


def test_a_job_over_its_memory_limit_fails_as_out_of_memory(store, db_path):
    docker_queue(store, config={"resource_args": {"memory": "32m", "memory_swap": "32m"}})
    from runners.catalog.jobs import create_job

    create_job(
        store,
        "image",
        "hog",
        PYTHON,
        entrypoint="python3 -c \"print('allocating', flush=True); b = b'x' * (400 << 20)\"",
    )
    item = launch(store, "hog", "dock")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FAILED
    assert run.exit_code == 137
    assert run.error_message == "out of memory (limit 32 MiB)"
    assert "allocating" in log_of(store, run.id)


def test_a_code_job_is_built_with_its_requirements_and_runs_as_a_non_root_user(
    store, db_path, tmp_path, engine
):
    code = write_code_job(
        tmp_path / "code",
        """
        import json, os
        import tinypkg
        config = json.load(open(os.environ["LAUNCHBAY_CONFIG_FILE"]))
        print("uid", os.getuid(), "tiny", tinypkg.VALUE, "config", config)
        """,
    )
    _write_wheel(code / "wheels", "tinypkg", "VALUE = 42\n")
    _fresh_content(code)
    (code / "requirements.txt").write_text("./wheels/tinypkg-0.1-py3-none-any.whl\n")
    docker_queue(store)
    create_job(store, "code", "trainer", str(code))
    first = launch(store, "trainer", "dock", spec={"overrides": {"run_config": {"epochs": 2}}})
    with AgentThread(db_path):
        run = run_of(store, first, timeout=120)
        log = log_of(store, run.id)
        assert run.state is RunState.FINISHED, (run.message, log)
        assert "uid 1000 tiny 42 config {'epochs': 2}" in log
        assert "from a generated Dockerfile (base local/python3:latest)" in log
        assert "Successfully tagged launchbay/trainer:" in log

        # A relaunch of the same version reuses the image: nothing is built again.
        again = run_of(store, launch(store, "trainer", "dock"), timeout=60)
    second_log = log_of(store, again.id)
    assert again.state is RunState.FINISHED, second_log
    assert "is already built for trainer:v0; reusing it" in second_log
    assert "Step 1/" not in second_log
    assert again.handle["image"] == run.handle["image"]
    assert run.handle["image"] in engine.images.get(run.handle["image"]).tags


def test_a_git_job_builds_from_the_dockerfile_beside_its_entrypoint(store, db_path, tmp_path):
    repo = tmp_path / "repo"
    (repo / "train").mkdir(parents=True)
    (repo / "train" / "main.py").write_text("import os\nprint('mark', os.environ['MARK'])\n")
    (repo / "train" / "Dockerfile").write_text(
        f"FROM {PYTHON}\nENV MARK=beside-the-entrypoint\nCOPY . /src\nWORKDIR /src\n"
    )
    (repo / "alt.Dockerfile").write_text(
        f"FROM {PYTHON}\nENV MARK=launch-override\nCOPY . /src\nWORKDIR /src\n"
    )
    _fresh_content(repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "train")
    docker_queue(store)
    create_job(store, "git", "gitjob", f"file://{repo}", entrypoint="python3 train/main.py")
    beside = launch(store, "gitjob", "dock")
    override = launch(store, "gitjob", "dock", spec={"overrides": {"dockerfile": "alt.Dockerfile"}})
    with AgentThread(db_path):
        beside_run = run_of(store, beside, timeout=120)
        override_run = run_of(store, override, timeout=120)
    assert beside_run.state is RunState.FINISHED, log_of(store, beside_run.id)
    assert "mark beside-the-entrypoint" in log_of(store, beside_run.id)
    assert "train/Dockerfile (next to the entrypoint)" in log_of(store, beside_run.id)
    assert override_run.state is RunState.FINISHED, log_of(store, override_run.id)
    assert "mark launch-override" in log_of(store, override_run.id)


def test_a_build_failure_fails_the_item_at_stage_build_and_the_agent_goes_on(
    store, db_path, tmp_path
):
    code = write_code_job(tmp_path / "broken", "print('never')\n")
    (code / "Dockerfile").write_text(
        f"FROM {PYTHON}\n"
        "RUN echo compiling the world && echo 'error: no such toolchain' && exit 7\n"
    )
    docker_queue(store)
    create_job(store, "code", "broken", str(code))
    image_job(store, "fine", "echo still serving")
    bad, good = launch(store, "broken", "dock"), launch(store, "fine", "dock")
    with AgentThread(db_path):
        failed = run_of(store, bad, timeout=120)
        served = run_of(store, good)
    assert failed.state is RunState.FAILED
    assert failed.error_stage == "build"
    assert "returned a non-zero code: 7" in failed.error_message
    assert "error: no such toolchain" in failed.error_message  # the last lines of the build
    assert served.state is RunState.FINISHED
    assert "still serving" in log_of(store, served.id)


def test_an_image_that_cannot_be_pulled_fails_at_stage_build_without_hanging(store, db_path):
    docker_queue(store)
    create_job(store, "image", "ghost", "127.0.0.1:9/nowhere/ghost:1", entrypoint="true")
    item = launch(store, "ghost", "dock")
    with AgentThread(db_path):
        run = run_of(store, item, timeout=90)
    assert run.state is RunState.FAILED
    assert run.error_stage == "build"
    assert "127.0.0.1:9/nowhere/ghost:1 is not on this engine and pulling it failed" in (
        run.error_message
    )


def test_a_code_job_on_a_queue_with_a_registry_is_pushed_there(store, db_path, tmp_path):
    repository = f"launchbay-test-{time.time_ns()}"
    code = write_code_job(tmp_path / "pushed", "print('pushed and ran')\n")
    docker_queue(store, config={"registry": f"{REGISTRY}/{repository}"})
    create_job(store, "code", "pushed", str(code))
    item = launch(store, "pushed", "dock")
    with AgentThread(db_path):
        run = run_of(store, item, timeout=120)
    log = log_of(store, run.id)
    assert run.state is RunState.FINISHED, log
    assert "pushed and ran" in log
    assert f"pushing {REGISTRY}/{repository}:pushed-" in log
    (tag,) = registry_tags(repository)
    assert tag.startswith("pushed-")


def _fresh_content(folder) -> None:
    """Make the code unlike any built before, so the test sees a build and not the engine's
    cache from an earlier test session (the image tag is a hash of the content)."""
    (folder / "nonce.txt").write_text(str(time.time_ns()))


def _write_wheel(folder, name: str, module_source: str) -> None:
    """A minimal pure-Python wheel: pip installs it with no index and no network."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-0.1"
    with zipfile.ZipFile(folder / f"{dist}-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{name}.py", module_source)
        wheel.writestr(
            f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n"
        )
        wheel.writestr(
            f"{dist}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr(
            f"{dist}.dist-info/RECORD",
            f"{name}.py,,\n{dist}.dist-info/METADATA,,\n{dist}.dist-info/WHEEL,,\n"
            f"{dist}.dist-info/RECORD,,\n",
        )


def test_a_code_jobs_own_dockerfile_is_used_and_named_in_the_log(store, db_path, tmp_path, cli):
    code = write_code_job(tmp_path / "own", "import os\nprint('built by', os.environ['BY'])\n")
    (code / "ci").mkdir()
    (code / "ci" / "train.Dockerfile").write_text(
        f"FROM {PYTHON}\nENV BY=the-jobs-own-dockerfile\nCOPY . /src\nWORKDIR /src\n"
    )
    _fresh_content(code)
    docker_queue(store)
    created = cli("job", "create", "code", "own", str(code), "--dockerfile", "ci/train.Dockerfile")
    assert created.code == 0, created.err
    item = launch(store, "own", "dock", entry_point="python3 main.py")
    with AgentThread(db_path):
        run = run_of(store, item, timeout=120)
    log = log_of(store, run.id)
    assert run.state is RunState.FINISHED, log
    assert "built by the-jobs-own-dockerfile" in log
    assert "from ci/train.Dockerfile (the job's Dockerfile)" in log


def test_a_gpu_request_on_an_engine_without_gpus_fails_at_stage_run_saying_why(store, db_path):
    docker_queue(store, config={"resource_args": {"gpus": "all"}})
    image_job(store, "wants-gpu", "nvidia-smi")
    item = launch(store, "wants-gpu", "dock")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FAILED
    assert run.error_stage == "run"
    assert "starting the container failed" in run.error_message
    assert "gpu" in run.error_message


def test_waiting_on_a_container_deleted_meanwhile_says_it_vanished(store, db_path, engine):
    from runners.registry import get_runner

    docker_queue(store)
    image_job(store, "doomed", "echo up; sleep 300")
    item = launch(store, "doomed", "dock")
    with agent_killed_after(db_path, "dock"):
        run = run_of(store, item, {RunState.RUNNING})
    engine.api.remove_container(run.handle["container"], force=True)
    status = get_runner("docker").wait(run.handle, timeout=1)
    # Not "the Docker engine is unreachable" and a retry: the container is gone for good.
    assert status.state is RunState.FAILED and status.error_stage == "run"
    assert "container is gone" in status.message


class Docker(Backend):
    """The real engine: each run a container (scripts/services/docker.sh)."""

    resource = "docker"
    failure_says = "exited with code 3"
    vanish_modes = ("watched", "while-no-agent-ran")
    escape = ({}, {"network": "host"}, ("resource_args.network", "not granted by queue config"))

    def __init__(self, engine):
        self.engine = engine

    def queue(self, store, resource_args=None, **extra):
        resource_args = {"stop_grace_seconds": 30, **(resource_args or {})}
        docker_queue(store, "q", config={"resource_args": resource_args, **extra})

    def held_job(self, store, name, exit_code=0):
        image_job(store, name, held_shell_script(exit_code))

    def started(self, store, run):
        (container,) = containers_of(self.engine, run.id)
        assert container["Labels"]["launchbay.run-id"] == run.id
        assert container["Labels"]["launchbay.queue"] == "q"
        assert container["Labels"]["launchbay.job"] == f"{run.spec['job']['name']}:v0"

    def release(self, store, run):
        container = self.engine.containers.get(f"launchbay-{run.id}")
        assert container.exec_run(["touch", "/go"]).exit_code == 0

    def seen(self, store, run):
        return seen_in_log(store, run)

    def vanish(self, store, run):
        (container,) = containers_of(self.engine, run.id)
        self.engine.api.remove_container(container["Id"], force=True)

    def registry(self):
        return {}  # docker_queue builds with the local base image; nothing to push

    def check_finished(self, store, run):
        assert run.exit_code == 0
        assert run.handle["container"]

    def check_failed(self, store, run):
        assert run.exit_code == 3

    def check_vanished(self, store, run):
        assert "container is gone" in run.message

    def check_cancelled(self, store, run):
        wait_for(lambda: not containers_of(self.engine, run.id), 30, "the container removed")

    def check_readopted(self, store, run, output):
        # After what the job was given: its two lines, once, and no note of launchbay's.
        assert log_of(store, run.id).splitlines()[GIVEN_LINES:] == ["before", "after"]
        assert run.handle["container"]

    def check_built(self, store, run, registry):
        assert "built and ran" in log_of(store, run.id)


@pytest.fixture
def backend(engine):
    return Docker(engine)


class TestContract(RunnerContract):
    backend_class = Docker

"""The vertex resource's checks and dry run, plain Python at launch (no SDK, no service): the
fields of resource_args and target, the accelerator types, the CustomJob a launch would send,
and how a CustomJob's state maps to a run's. tests/runners/test_vertex.py runs the jobs."""

import importlib.util
import json
import subprocess
import sys

import pytest
from kit import REPO, assert_bad_input, snapshot
from kit.gcp import VERTEX_ARGS

from runners.catalog.jobs import create_job
from runners.catalog.queues import check_queue_config
from store import RunState

IMAGE = "us-docker.pkg.dev/launchbay-test/lb/train:1"


def gpu_pool(accelerator_type: str, replicas: int = 1) -> dict:
    machine = {
        "machine_type": "a2-highgpu-1g",
        "accelerator_type": accelerator_type,
        "accelerator_count": 1,
    }
    return {"machine_spec": machine, "replica_count": replicas}


def training_job(store):
    return create_job(store, "image", "train", IMAGE, entrypoint="python -m train").version


@pytest.fixture(autouse=True)
def no_google_environment(monkeypatch):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_REGION", raising=False)


def vertex_queue(store, name="vx", target=None, resource_args=None):
    """A vertex queue whose endpoint nothing here reaches: checks and dry runs ask no service."""
    target = target or {
        "project": "launchbay-test",
        "location": "us-central1",
        "api_endpoint": "127.0.0.1:9",
        "credentials": "anonymous",
    }
    config = {"resource_args": resource_args or VERTEX_ARGS, "target": target}
    return store.queues.create(name, "vertex", check_queue_config("vertex", config))


@pytest.mark.parametrize(
    ("resource_args", "fragments"),
    [
        ({"spec": {"worker_pool_specs": []}}, ["resource_args.spec.worker_pool_specs"]),
        (
            {"spec": {**VERTEX_ARGS["spec"], "staging_bucket": "/tmp/out"}},
            ["resource_args.spec.staging_bucket", "gs://"],
        ),
        (
            {"spec": {**VERTEX_ARGS["spec"], "worker_pool_specs": [{"replica_count": 1}]}},
            ["resource_args.spec.worker_pool_specs.0.machine_spec"],
        ),
        (
            {"spec": {**VERTEX_ARGS["spec"], "scheduling": {"strategy": "CHEAP"}}},
            ["resource_args.spec.scheduling.strategy"],
        ),
        ({"spec": {**VERTEX_ARGS["spec"], "labels": {"Team": "x"}}}, ["resource_args.spec.labels"]),
        (
            {"spec": {**VERTEX_ARGS["spec"], "labels": {"team\n": "x"}}},
            ["resource_args.spec.labels"],
        ),
        ({"spec": VERTEX_ARGS["spec"], "runn": {}}, ["resource_args.runn: unknown key"]),
        (
            {
                "spec": {
                    **VERTEX_ARGS["spec"],
                    "worker_pool_specs": [gpu_pool("NVIDIA_TESLA_A100X")],
                }
            },
            [
                "resource_args.spec.worker_pool_specs.0.machine_spec.accelerator_type",
                "'NVIDIA_TESLA_A100X'",
                "did you mean NVIDIA_TESLA_A100",
            ],
        ),
    ],
    ids=[
        "no-pools",
        "bucket",
        "machine",
        "strategy",
        "labels",
        "label-newline",
        "unknown",
        "accelerator",
    ],
)
def test_missing_or_malformed_fields_are_named_at_launch_and_dry_run(
    store, db_path, cli, resource_args, fragments
):
    vertex_queue(store)
    training_job(store)
    for extra in ([], ["--dry-run"]):
        before = snapshot(db_path)
        spec = json.dumps({"resource_args": {"vertex": resource_args}})
        result = cli("launch", "-j", "train", "-q", "vx", "-c", spec, *extra)
        assert_bad_input(result, *fragments)
        assert snapshot(db_path) == before


def test_a_missing_project_is_named_and_the_environment_can_supply_it(
    store, db_path, cli, monkeypatch
):
    vertex_queue(store, target={"location": "us-central1", "credentials": "anonymous"})
    training_job(store)
    before = snapshot(db_path)
    assert_bad_input(cli("launch", "-j", "train", "-q", "vx"), "target.project: missing")
    assert snapshot(db_path) == before
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    result = cli("launch", "-j", "train", "-q", "vx", "--dry-run")
    assert result.code == 0, result.err
    submission = json.loads(result.out)["submission"]
    assert submission["parent"] == "projects/from-env/locations/us-central1"
    assert submission["custom_job"]["labels"]["launchbay-run-id"] == "dryrun00"


def test_later_pools_without_an_image_run_the_job_and_every_pool_gets_the_env(store, cli):
    machine = {"machine_type": "n1-standard-4"}
    pools = [
        {"machine_spec": machine, "replica_count": 1},
        {"machine_spec": machine, "replica_count": 3},
        {
            "machine_spec": machine,
            "replica_count": 1,
            "container_spec": {"image_uri": "reduction-server:1", "args": ["--serve"]},
        },
    ]
    spec = {**VERTEX_ARGS["spec"], "worker_pool_specs": pools}
    vertex_queue(store, resource_args={**VERTEX_ARGS, "spec": spec})
    training_job(store)
    result = cli("launch", "-j", "train", "-q", "vx", "-a", "--epochs 2", "--dry-run")
    assert result.code == 0, result.err
    chief, workers, server = (
        pool["container_spec"]
        for pool in json.loads(result.out)["submission"]["custom_job"]["job_spec"][
            "worker_pool_specs"
        ]
    )
    for container in (chief, workers):
        assert container["image_uri"] == IMAGE
        assert container["command"] == ["python", "-m", "train"]
        assert container["args"] == ["--epochs", "2"]
    assert (server["image_uri"], server["args"]) == ("reduction-server:1", ["--serve"])
    assert "command" not in server
    for container in (chief, workers, server):
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["LAUNCHBAY_RUN_ID"] == "dryrun00"


@pytest.mark.parametrize(
    "accelerator", ["NVIDIA_TESLA_A100X", "nvidia-tesla-a100x", "A100", "NVIDIA TESLA T4"]
)
def test_a_queue_naming_an_accelerator_vertex_lacks_is_refused(store, db_path, cli, accelerator):
    spec = {**VERTEX_ARGS["spec"], "worker_pool_specs": [gpu_pool(accelerator)]}
    target = {"project": "p", "location": "us-central1"}
    config = {"resource_args": {**VERTEX_ARGS, "spec": spec}, "target": target}
    before = snapshot(db_path)
    result = cli("queue", "create", "gpus", "-r", "vertex", "-c", json.dumps(config))
    line = assert_bad_input(
        result, "resource_args.spec.worker_pool_specs.0.machine_spec.accelerator_type"
    )
    assert repr(accelerator) in line and "NVIDIA_TESLA_" in line  # the closest names, or all
    assert snapshot(db_path) == before


def test_gclouds_spelling_of_an_accelerator_is_taken_and_sent_as_the_apis(store, cli):
    pools = [gpu_pool("nvidia-tesla-a100"), gpu_pool("Nvidia_L4", replicas=2)]
    spec = {**VERTEX_ARGS["spec"], "worker_pool_specs": pools}
    vertex_queue(store, resource_args={**VERTEX_ARGS, "spec": spec})
    training_job(store)
    launched = {"resource_args": {"vertex": {"spec": {"worker_pool_specs": [gpu_pool("tpu-v3")]}}}}
    for extra, expected in (
        ([], ["NVIDIA_TESLA_A100", "NVIDIA_L4"]),
        (["-c", json.dumps(launched)], ["TPU_V3"]),
    ):
        result = cli("launch", "-j", "train", "-q", "vx", "--dry-run", *extra)
        assert result.code == 0, result.err
        custom_job = json.loads(result.out)["submission"]["custom_job"]
        sent = [
            p["machine_spec"]["accelerator_type"]
            for p in custom_job["job_spec"]["worker_pool_specs"]
        ]
        assert sent == expected


def test_the_accelerator_names_are_aiplatforms_own_enum():
    """The names read from the installed SDK's source, and the list shipped for machines
    without the SDK, are exactly aiplatform_v1's AcceleratorType (regenerate SHIPPED with
    `python -m runners.targets.vertex.accelerators` when this fails after an SDK upgrade)."""
    from google.cloud.aiplatform_v1.types import AcceleratorType

    from runners.targets.vertex import accelerators as vertex_accelerators

    real = tuple(member.name for member in AcceleratorType)
    assert vertex_accelerators.accelerator_types() == real
    assert real == vertex_accelerators.SHIPPED


def test_without_the_sdk_the_shipped_names_are_checked(monkeypatch):
    from runners.targets.vertex import accelerators as vertex_accelerators

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args, **kwargs: None)
    assert vertex_accelerators._installed_source() is None
    assert vertex_accelerators.accelerator_types.__wrapped__() == vertex_accelerators.SHIPPED


def test_a_launch_cannot_change_the_service_account(store, db_path, cli):
    vertex_queue(store)
    training_job(store)
    spec = {"resource_args": {"run": {"service_account": "owner@launchbay-test.iam"}}}
    before = snapshot(db_path)
    result = cli("launch", "-j", "train", "-q", "vx", "-c", json.dumps(spec))
    assert_bad_input(result, "resource_args.run.service_account", "queue's own config")
    assert snapshot(db_path) == before


def test_a_vertex_launch_and_dry_run_never_import_the_sdk(store, db_path):
    """aiplatform takes seconds to import: the checks and the preview are plain Python, so a
    launch from the CLI or the TUI answers at once (the accelerator type is checked too)."""
    spec = {**VERTEX_ARGS["spec"], "worker_pool_specs": [gpu_pool("nvidia-tesla-t4")]}
    vertex_queue(store, resource_args={**VERTEX_ARGS, "spec": spec})
    training_job(store)
    script = (
        "import sys, contextlib, io\n"
        "from tui.cli import main\n"
        "for extra in (['--dry-run'], []):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"        main(['--db', {str(db_path)!r}, 'launch', '-j', 'train', '-q', 'vx', *extra])\n"
        "sdks = ('google.cloud.aiplatform', 'google.cloud.logging', 'grpc')\n"
        "loaded = [m for m in sys.modules if m.startswith(sdks)]\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert store.items.get(1).job == "train:v0"  # the launch did enqueue


@pytest.mark.parametrize(
    ("state", "run_state", "message"),
    [
        ("JOB_STATE_QUEUED", RunState.STARTING, "queued"),
        ("JOB_STATE_PENDING", RunState.STARTING, "pending"),
        ("JOB_STATE_RUNNING", RunState.RUNNING, "running"),
        ("JOB_STATE_SUCCEEDED", RunState.FINISHED, "succeeded"),
        ("JOB_STATE_FAILED", RunState.FAILED, "the replica workerpool0-0 exited 3"),
        ("JOB_STATE_CANCELLING", RunState.STOPPING, "cancelling"),
        ("JOB_STATE_CANCELLED", RunState.STOPPED, "cancelled"),
        ("JOB_STATE_EXPIRED", RunState.FAILED, "the CustomJob ended expired"),
    ],
)
def test_custom_job_states_map_to_run_states(state, run_state, message):
    from google.cloud.aiplatform_v1 import types

    from runners.targets.vertex.status import job_status

    job = types.CustomJob(state=types.JobState[state])
    if state == "JOB_STATE_FAILED":
        job.error.message = message
    status = job_status(job)
    assert (status.state, status.message) == (run_state, message)


def test_an_ended_custom_job_carries_its_end_time_and_a_live_one_none():
    import datetime

    from google.cloud.aiplatform_v1 import types

    from runners.targets.vertex.status import job_status

    ended = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    job = types.CustomJob(state=types.JobState.JOB_STATE_SUCCEEDED, end_time=ended)
    assert job_status(job).ended_at == ended.timestamp()
    running = types.CustomJob(state=types.JobState.JOB_STATE_RUNNING)
    assert job_status(running).ended_at is None

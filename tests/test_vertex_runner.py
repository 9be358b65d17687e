"""The vertex resource: the real aiplatform_v1 JobServiceClient over gRPC and TLS against a fake
JobService (tests/fakes/vertex.py) that moves jobs through their states, holds them RUNNING until
the test releases them, fails and cancels them, forgets them and answers UNAVAILABLE when told;
the job's logs come from the same fake's Cloud Logging ListLogEntries through the real
LoggingServiceV2Client."""

import importlib.util
import json
import subprocess
import sys
import time

import grpc
import pytest
from docker_support import fresh_registry, pushed_image
from fakes.vertex import FakeVertex
from helpers import AgentThread, run_of
from support import (
    REPO,
    agent_killed_after,
    agent_process,
    forget_handle,
    launch,
    run_agent_until_empty,
    write_code_job,
)
from test_bad_input import assert_bad_input, snapshot

from runners.cancelling import cancel_by_id
from runners.jobs import create_job
from runners.queues import check_queue_config
from store import RunState

IMAGE = "us-docker.pkg.dev/launchbay-test/lb/train:1"
VERTEX_ARGS = {
    "spec": {
        "worker_pool_specs": [
            {"machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": 1}
        ],
        "staging_bucket": "gs://lb-staging",
        "labels": {"team": "vision"},
        "scheduling": {"timeout": 3600, "strategy": "SPOT"},
    },
    "run": {"service_account": "trainer@launchbay-test.iam.gserviceaccount.com"},
}


@pytest.fixture
def vertex(monkeypatch):
    fake = FakeVertex()  # jobs stay RUNNING until the test releases them
    fake.start()
    monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", fake.ca_file)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_REGION", raising=False)
    yield fake
    fake.stop()


def gpu_pool(accelerator_type: str, replicas: int = 1) -> dict:
    machine = {
        "machine_type": "a2-highgpu-1g",
        "accelerator_type": accelerator_type,
        "accelerator_count": 1,
    }
    return {"machine_spec": machine, "replica_count": replicas}


def vertex_queue(store, vertex, name="vx", target=None, resource_args=None, **extra):
    config = {
        **extra,
        "resource_args": resource_args or VERTEX_ARGS,
        "target": target
        or {
            "project": "launchbay-test",
            "location": "us-central1",
            "api_endpoint": vertex.api_endpoint,
            "logging_endpoint": vertex.api_endpoint,
            "credentials": "anonymous",
            "poll_seconds": 0.1,
        },
    }
    return store.queues.create(name, "vertex", check_queue_config("vertex", config))


def training_job(store):
    return create_job(store, "image", "train", IMAGE, entrypoint="python -m train").version


def test_a_custom_job_runs_to_success_with_the_jobs_image_entrypoint_and_labels(
    store, db_path, vertex
):
    vertex_queue(store, vertex)
    training_job(store)
    item = launch(store, "train", "vx", args=["--epochs 2"])
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        vertex.release(run.handle["name"])
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    (job,) = vertex.jobs()
    assert job.name == run.handle["name"]
    assert job.labels["launchbay-run-id"] == run.id
    assert job.labels["team"] == "vision"
    pool = job.job_spec.worker_pool_specs[0]
    assert pool.container_spec.image_uri == IMAGE
    assert list(pool.container_spec.command) == ["python", "-m", "train"]
    assert list(pool.container_spec.args) == ["--epochs", "2"]
    env = {e.name: e.value for e in pool.container_spec.env}
    assert env["LAUNCHBAY_RUN_ID"] == run.id
    assert "LAUNCHBAY_CONFIG_FILE" not in env  # no file reaches the container
    assert job.job_spec.service_account == "trainer@launchbay-test.iam.gserviceaccount.com"
    assert job.job_spec.scheduling.strategy.name == "SPOT"
    assert job.job_spec.base_output_directory.output_uri_prefix == (
        f"gs://lb-staging/launchbay/{run.id}"
    )


def test_a_code_job_is_built_pushed_and_its_pushed_image_submitted(
    store, db_path, vertex, engine, tmp_path
):
    build = fresh_registry("vx-test")
    code = write_code_job(tmp_path / "code", "print('trained')\n")
    vertex_queue(store, vertex, **build)
    create_job(store, "code", "coder", str(code), entrypoint="python3 main.py")
    vertex.hold = False  # nothing to do while it runs: it ends by itself
    item = launch(store, "coder", "vx")
    output = run_agent_until_empty(db_path, "vx", timeout=300)
    run = run_of(store, item)
    assert run.state is RunState.FINISHED, output
    (job,) = vertex.jobs()
    container = job.job_spec.worker_pool_specs[0].container_spec
    assert container.image_uri == pushed_image(build["registry"])
    assert list(container.command) == ["python3", "main.py"]


def test_a_failed_custom_job_fails_the_run_with_its_error_message(store, db_path, vertex):
    vertex_queue(store, vertex)
    training_job(store)
    item = launch(store, "train", "vx")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        vertex.fail(run.handle["name"], "The replica workerpool0-0 exited with a non-zero status")
        run = run_of(store, item)
    assert run.state is RunState.FAILED
    assert run.error_stage == "run"
    assert run.error_message == "The replica workerpool0-0 exited with a non-zero status"


def test_cancel_cancels_the_custom_job(store, db_path, vertex):
    vertex_queue(store, vertex)
    training_job(store)
    item = launch(store, "train", "vx")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        cancel_by_id(store, run.id)
        run = run_of(store, item)
    assert run.state is RunState.STOPPED
    assert ("CancelCustomJob", run.handle["name"]) in vertex.calls


def test_unavailable_answers_are_retried(store, db_path, vertex):
    vertex_queue(store, vertex)
    training_job(store)
    vertex.hold = False
    vertex.unavailable(3, method="CreateCustomJob")
    vertex.unavailable(3, method="GetCustomJob")
    item = launch(store, "train", "vx")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    assert len(vertex.jobs()) == 1  # retried creates made no second job


def test_a_custom_job_that_vanished_fails_the_run_saying_so(store, db_path, vertex):
    vertex_queue(store, vertex)
    training_job(store)
    item = launch(store, "train", "vx")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        vertex.forget(run.handle["name"])
        run = run_of(store, item)
    assert run.state is RunState.FAILED
    assert "no longer exists" in run.error_message


@pytest.mark.parametrize("handle_recorded", [True, False], ids=["handle", "found-by-label"])
def test_a_restarted_agent_re_adopts_its_custom_job(store, db_path, vertex, handle_recorded):
    vertex_queue(store, vertex)
    training_job(store)
    item = launch(store, "train", "vx")
    with agent_killed_after(db_path, "vx"):
        run = run_of(store, item, {RunState.RUNNING})
    submitted = run.handle["name"]
    if not handle_recorded:
        forget_handle(store, run.id)
    output = agent_until_empty_releasing(db_path, vertex, submitted)
    run = store.runs.get(run.id)
    assert run.state is RunState.FINISHED, output
    assert "re-adopted" in output
    assert len(vertex.jobs()) == 1
    assert run.handle["name"] == submitted


def agent_until_empty_releasing(db_path, vertex, name: str) -> str:
    """A new agent run until its queue is empty, the job released once that agent has
    re-adopted it: the adoption reads the job once, and only a re-adopted job is read again."""
    agent = agent_process(db_path, "vx", "--until-empty")
    try:
        gets_before = vertex.calls.count(("GetCustomJob", name))
        wait_for(lambda: vertex.calls.count(("GetCustomJob", name)) >= gets_before + 2, 60)
        vertex.release(name)
        return agent.communicate(timeout=120)[0]
    finally:
        agent.kill()
        agent.wait(timeout=30)


def job_id(run) -> str:
    return run.handle["name"].rsplit("/", 1)[-1]


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_jobs_cloud_logging_lines_reach_the_runs_log_in_order_once(store, db_path, vertex):
    vertex_queue(store, vertex)
    training_job(store)
    item = launch(store, "train", "vx")
    vertex.unavailable(2, method="ListLogEntries")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        vertex.add_log_lines(job_id(run), ["epoch 1", "epoch 2"])
        vertex.add_log_lines_at_end(job_id(run), ["saved model", "done"])
        log = store.run_log_path(run.id)
        wait_for(lambda: "epoch 2" in log.read_text())
        vertex.add_log_lines(job_id(run), ["epoch 3"])
        vertex.release(run.handle["name"])
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    lines = log.read_text().splitlines()
    ours = [line for line in lines if not line.startswith("[launchbay]")]
    assert ours[-5:] == ["epoch 1", "epoch 2", "epoch 3", "saved model", "done"], lines
    assert len(ours) == len(set(ours))


def test_structured_entries_show_their_message_and_records_without_one_are_left_out(
    store, db_path, vertex
):
    vertex_queue(store, vertex)
    training_job(store)
    item = launch(store, "train", "vx")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        vertex.add_log_lines(
            job_id(run),
            ["plain", {"message": "structured", "severity": "INFO"}, {"step": 7}, "after"],
        )
        vertex.release(run.handle["name"])
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    lines = store.run_log_path(run.id).read_text().splitlines()
    assert [line for line in lines if not line.startswith("[launchbay]")] == [
        "plain",
        "structured",
        "after",
    ]


def test_when_cloud_logging_refuses_the_log_says_so_once_and_the_run_still_ends(
    store, db_path, vertex
):
    vertex_queue(store, vertex)
    training_job(store)
    item = launch(store, "train", "vx")
    vertex.hold = False
    vertex.refuse(
        1000, "ListLogEntries", grpc.StatusCode.PERMISSION_DENIED, "logging.entries.list denied"
    )
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    notes = [
        line
        for line in store.run_log_path(run.id).read_text().splitlines()
        if "Cloud Logging" in line
    ]
    assert notes == [
        "[launchbay] stopped following this job's Cloud Logging entries:"
        " PermissionDenied: logging.entries.list denied"
    ]
    # Refused for good: asked once, not retried.
    assert sum(1 for method, _ in vertex.calls if method == "ListLogEntries") == 1


def test_a_job_with_several_replicas_prefixes_each_line_with_its_task(store, db_path, vertex):
    pools = [{"machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": 2}]
    vertex_queue(
        store,
        vertex,
        resource_args={**VERTEX_ARGS, "spec": {**VERTEX_ARGS["spec"], "worker_pool_specs": pools}},
    )
    training_job(store)
    item = launch(store, "train", "vx")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        vertex.add_log_lines(job_id(run), ["chief up"])
        vertex.add_log_lines_at_end(job_id(run), ["worker up"], task="workerpool0-1")
        vertex.release(run.handle["name"])
        run = run_of(store, item)
    text = store.run_log_path(run.id).read_text()
    assert "[workerpool0-0] chief up\n[workerpool0-1] worker up\n" in text


def test_a_restarted_agent_neither_repeats_nor_loses_log_lines(store, db_path, vertex):
    vertex_queue(store, vertex)
    training_job(store)
    item = launch(store, "train", "vx")
    with agent_killed_after(db_path, "vx"):
        run = run_of(store, item, {RunState.RUNNING})
        before = [f"before {n}" for n in range(5)]
        vertex.add_log_lines(job_id(run), before)
        cursor = store.run_dir(run.id) / "cloud_logging_cursor.json"
        # Killed once the cursor holds every line written: no line is both written and unsaved.
        wait_for(lambda: cursor.exists() and len(json.loads(cursor.read_text())["seen"]) == 5)
    vertex.add_log_lines(job_id(run), ["while no agent ran"])
    vertex.add_log_lines_at_end(job_id(run), ["the end"])
    vertex.release(run.handle["name"])
    output = run_agent_until_empty(db_path, "vx")
    run = store.runs.get(run.id)
    assert run.state is RunState.FINISHED, output
    lines = store.run_log_path(run.id).read_text().splitlines()
    ours = [line for line in lines if not line.startswith("[launchbay]")]
    assert ours[-7:] == [*before, "while no agent ran", "the end"], lines
    assert len(ours) == len(set(ours)), lines


def test_without_the_logging_client_the_log_says_where_the_logs_are(
    store, db_path, vertex, monkeypatch
):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name.startswith("google.cloud.logging"):
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    vertex_queue(store, vertex)
    training_job(store)
    item = launch(store, "train", "vx")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        vertex.add_log_lines(job_id(run), ["epoch 1"])
        vertex.release(run.handle["name"])
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    text = store.run_log_path(run.id).read_text()
    assert (
        f'[launchbay] this job\'s logs are in Cloud Logging (resource.type="ml_job",'
        f' resource.labels.job_id="{job_id(run)}"); install google-cloud-logging'
        " (pip install 'launchbay[vertex]') for launchbay to follow them here\n"
    ) in text
    assert "epoch 1" not in text
    assert not any(c[0] == "ListLogEntries" for c in vertex.calls)


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
    ids=["no-pools", "bucket", "machine", "strategy", "labels", "unknown", "accelerator"],
)
def test_missing_or_malformed_fields_are_named_at_launch_and_dry_run(
    store, db_path, vertex, cli, resource_args, fragments
):
    vertex_queue(store, vertex)
    training_job(store)
    for extra in ([], ["--dry-run"]):
        before = snapshot(db_path)
        spec = json.dumps({"resource_args": {"vertex": resource_args}})
        result = cli("launch", "-j", "train", "-q", "vx", "-c", spec, *extra)
        assert_bad_input(result, *fragments)
        assert snapshot(db_path) == before


def test_a_missing_project_is_named_and_the_environment_can_supply_it(
    store, db_path, vertex, cli, monkeypatch
):
    vertex_queue(store, vertex, target={"location": "us-central1", "credentials": "anonymous"})
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


def test_later_pools_without_an_image_run_the_job_and_every_pool_gets_the_env(store, vertex, cli):
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
    vertex_queue(store, vertex, resource_args={**VERTEX_ARGS, "spec": spec})
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
def test_a_queue_naming_an_accelerator_vertex_lacks_is_refused(
    store, db_path, vertex, cli, accelerator
):
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


def test_gclouds_spelling_of_an_accelerator_is_taken_and_sent_as_the_apis(store, vertex, cli):
    pools = [gpu_pool("nvidia-tesla-a100"), gpu_pool("Nvidia_L4", replicas=2)]
    spec = {**VERTEX_ARGS["spec"], "worker_pool_specs": pools}
    vertex_queue(store, vertex, resource_args={**VERTEX_ARGS, "spec": spec})
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
    `python -m runners.vertex_accelerators` when this fails after an SDK upgrade)."""
    from google.cloud.aiplatform_v1.types import AcceleratorType

    from runners import vertex_accelerators

    real = tuple(member.name for member in AcceleratorType)
    assert vertex_accelerators.accelerator_types() == real
    assert real == vertex_accelerators.SHIPPED


def test_a_launch_cannot_change_the_service_account(store, db_path, vertex, cli):
    vertex_queue(store, vertex)
    training_job(store)
    spec = {"resource_args": {"run": {"service_account": "owner@launchbay-test.iam"}}}
    before = snapshot(db_path)
    result = cli("launch", "-j", "train", "-q", "vx", "-c", json.dumps(spec))
    assert_bad_input(result, "resource_args.run.service_account", "queue's own config")
    assert snapshot(db_path) == before


def test_a_vertex_launch_and_dry_run_never_import_the_sdk(store, db_path, vertex):
    """aiplatform takes seconds to import: the checks and the preview are plain Python, so a
    launch from the CLI or the TUI answers at once (the accelerator type is checked too)."""
    spec = {**VERTEX_ARGS["spec"], "worker_pool_specs": [gpu_pool("nvidia-tesla-t4")]}
    vertex_queue(store, vertex, resource_args={**VERTEX_ARGS, "spec": spec})
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

    from runners.vertex_runner import job_status

    job = types.CustomJob(state=types.JobState[state])
    if state == "JOB_STATE_FAILED":
        job.error.message = message
    status = job_status(job)
    assert (status.state, status.message) == (run_state, message)

"""The vertex resource: the real aiplatform_v1 JobServiceClient over gRPC and TLS against a fake
JobService (tests/fakes/vertex.py) that moves jobs through their states, fails and cancels them,
forgets them and answers UNAVAILABLE when told."""

import json
import signal
import subprocess
import sys

import pytest
from fakes.vertex import FakeVertex
from helpers import AgentThread, run_of
from support import REPO, launch
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
    fake = FakeVertex(gets_to_finish=12)
    fake.start()
    monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", fake.ca_file)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_REGION", raising=False)
    yield fake
    fake.stop()


def vertex_queue(store, vertex, name="vx", target=None, resource_args=None):
    config = {
        "resource_args": resource_args or VERTEX_ARGS,
        "target": target
        or {
            "project": "launchbay-test",
            "location": "us-central1",
            "api_endpoint": vertex.api_endpoint,
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
    assert "gcloud logging read" in store.run_log_path(run.id).read_text()


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


def test_a_restarted_agent_re_adopts_its_custom_job(store, db_path, vertex):
    vertex_queue(store, vertex)
    training_job(store)
    item = launch(store, "train", "vx")
    agent = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--db", str(db_path), "agent", "-q", "vx"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        run = run_of(store, item, {RunState.RUNNING})
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=30)
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--db",
            str(db_path),
            "agent",
            "-q",
            "vx",
            "--until-empty",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = second.stdout + second.stderr
    run = store.runs.get(run.id)
    assert run.state is RunState.FINISHED, output
    assert "re-adopted" in output
    assert len(vertex.jobs()) == 1


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
    ],
    ids=["no-pools", "bucket", "machine", "strategy", "labels", "unknown"],
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
    launch from the CLI or the TUI answers at once."""
    vertex_queue(store, vertex)
    training_job(store)
    script = (
        "import sys, contextlib, io\n"
        "from tui.cli import main\n"
        "for extra in (['--dry-run'], []):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"        main(['--db', {str(db_path)!r}, 'launch', '-j', 'train', '-q', 'vx', *extra])\n"
        "loaded = [m for m in sys.modules if m.startswith(('google.cloud.aiplatform', 'grpc'))]\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert store.items.get(1).job == "train:v0"  # the launch did enqueue

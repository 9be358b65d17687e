"""The vertex resource: the real aiplatform_v1 JobServiceClient over gRPC and TLS against a fake
JobService (tests/fakes/vertex.py) that moves jobs through their states, holds them RUNNING until
the test releases them, fails and cancels them, forgets them and answers UNAVAILABLE when told;
the job's logs come from the same fake's Cloud Logging ListLogEntries through the real
LoggingServiceV2Client. The contract (TestContract, see contract.py), and what only vertex does
(retries, Cloud Logging)."""

import importlib.util
import json

import grpc
import pytest
from contract import RunnerContract
from contract_backend import PlayedByAFake, Seen
from kit import (
    AgentThread,
    agent_killed_after,
    fresh_registry,
    launch,
    lines_after_a_kill_between_copy_and_cursor,
    pushed_image,
    run_agent_until_empty,
    run_of,
    wait_for,
)
from kit.gcp import VERTEX_ARGS, vertex_queue
from test_vertex_checks import IMAGE, training_job

from runners.catalog.jobs import create_job
from runners.targets.vertex.logs import CURSOR_FILE, CloudLoggingFollower
from store import RunState


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


def job_id(run) -> str:
    return run.handle["name"].rsplit("/", 1)[-1]


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


def test_lines_copied_by_an_agent_killed_before_it_recorded_them_are_not_copied_again(
    vertex, tmp_path
):
    log, job = tmp_path / "output.log", "4242"

    def start_follower() -> CloudLoggingFollower:
        return CloudLoggingFollower(
            project="launchbay-test",
            job_id=job,
            credentials="anonymous",
            endpoint=vertex.api_endpoint,
            log_path=log,
            run_dir=tmp_path,
            every=0.05,
        ).start()

    lines = lines_after_a_kill_between_copy_and_cursor(
        start_follower, log, tmp_path / CURSOR_FILE, lambda lines: vertex.add_log_lines(job, lines)
    )
    assert lines == ["one", "two", "three"]


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


class Vertex(PlayedByAFake):
    """A fake JobService over gRPC: a CustomJob runs until released (tests/fakes/vertex.py)."""

    resource = "vertex"
    failure_says = "The replica workerpool0-0 exited with a non-zero status"
    vanished_says = "no longer exists (deleted outside launchbay)"
    escape = (
        None,
        {"run": {"service_account": "admin@launchbay-test.iam.gserviceaccount.com"}},
        ("resource_args.run.service_account", "can be set only in the queue's own config"),
    )

    def __init__(self, vertex):
        super().__init__()
        self.vertex = vertex

    def queue(self, store, resource_args=None, **extra):
        vertex_queue(store, self.vertex, "q", resource_args=resource_args, **extra)

    def create_job(self, store, name):
        create_job(store, "image", name, IMAGE, entrypoint="python -m train")

    def write_lines(self, run, lines, at_end=False):
        add = self.vertex.add_log_lines_at_end if at_end else self.vertex.add_log_lines
        add(job_id(run), lines)

    def end(self, run, failure):
        if failure:
            self.vertex.fail(run.handle["name"], failure)
        else:
            self.vertex.release(run.handle["name"])

    def seen(self, store, run):
        (job,) = [job for job in self.vertex.jobs() if job.name == run.handle["name"]]
        container = job.job_spec.worker_pool_specs[0].container_spec
        env = {e.name: e.value for e in container.env}
        return Seen(env, json.loads(env["LAUNCHBAY_CONFIG"]))

    def vanish(self, store, run):
        self.vertex.forget(run.handle["name"])

    def registry(self):
        return fresh_registry("vx-test")

    def run_freely(self):
        self.vertex.hold = False  # nothing to do while it runs: it ends by itself

    def check_finished(self, store, run):
        (job,) = self.vertex.jobs()
        assert job.name == run.handle["name"]
        assert job.labels["launchbay-run-id"] == run.id
        assert job.labels["team"] == "vision"
        pool = job.job_spec.worker_pool_specs[0]
        assert pool.container_spec.image_uri == IMAGE
        assert list(pool.container_spec.command) == ["python", "-m", "train"]
        assert list(pool.container_spec.args) == ["--lr", "0.1"]
        env = {e.name: e.value for e in pool.container_spec.env}
        assert "LAUNCHBAY_CONFIG_FILE" not in env  # no file reaches the container
        assert job.job_spec.service_account == "trainer@launchbay-test.iam.gserviceaccount.com"
        assert job.job_spec.scheduling.strategy.name == "SPOT"
        assert job.job_spec.base_output_directory.output_uri_prefix == (
            f"gs://lb-staging/launchbay/{run.id}"
        )

    def check_cancelled(self, store, run):
        assert ("CancelCustomJob", run.handle["name"]) in self.vertex.calls

    def check_readopted(self, store, run, output):
        super().check_readopted(store, run, output)
        (job,) = [job for job in self.vertex.jobs() if job.labels["launchbay-run-id"] == run.id]
        assert run.handle["name"] == job.name

    def check_built(self, store, run, registry):
        (job,) = self.vertex.jobs()
        container = job.job_spec.worker_pool_specs[0].container_spec
        assert container.image_uri == pushed_image(registry["registry"])
        assert list(container.command) == ["python3", "main.py"]


@pytest.fixture
def backend(vertex):
    return Vertex(vertex)


class TestContract(RunnerContract):
    backend_class = Vertex

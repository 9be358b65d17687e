"""The fake Vertex AI JobService (tests/fakes/vertex.py) seen through the real aiplatform_v1
JobServiceClient over gRPC + TLS, connected exactly as launchbay's Vertex runner connects:

    GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=<fake.ca_file>   (set before the first secure channel)
    JobServiceClient(credentials=AnonymousCredentials(),
                     client_options={"api_endpoint": "127.0.0.1:PORT"})

gRPC reads the roots file once per process, at the first secure channel; every FakeVertex of a
process serves the same certificate, so a function-scoped fixture setting the variable each
time is enough, as long as nothing in the session opened a secure gRPC channel before.
"""

import subprocess
import sys
import textwrap

import pytest
from fakes.vertex import FakeVertex
from google.api_core import exceptions
from google.api_core.retry import Retry, if_exception_type
from google.auth.credentials import AnonymousCredentials
from google.cloud.aiplatform_v1 import JobServiceClient, types

PARENT = "projects/launchbay-test/locations/us-central1"
State = types.JobState


@pytest.fixture
def fake(monkeypatch):
    fake = FakeVertex()
    fake.start()
    monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", fake.ca_file)
    yield fake
    fake.stop()


@pytest.fixture
def client(fake):
    client = JobServiceClient(
        credentials=AnonymousCredentials(), client_options={"api_endpoint": fake.api_endpoint}
    )
    yield client
    client.transport.close()


def custom_job(display_name: str = "lb-train", **labels: str) -> types.CustomJob:
    container = types.ContainerSpec(
        image_uri="us-docker.pkg.dev/launchbay-test/lb/train:1",
        command=["python", "-m", "train"],
        args=["--epochs", "2"],
        env=[types.EnvVar(name="LB_RUN_ID", value="7")],
    )
    pool = types.WorkerPoolSpec(
        machine_spec=types.MachineSpec(machine_type="n1-standard-4"),
        replica_count=1,
        container_spec=container,
    )
    return types.CustomJob(
        display_name=display_name,
        labels=labels or {"launchbay-run": "7"},
        job_spec=types.CustomJobSpec(worker_pool_specs=[pool]),
    )


def create(client, job: types.CustomJob | None = None) -> types.CustomJob:
    return client.create_custom_job(parent=PARENT, custom_job=job or custom_job(), timeout=5)


def get(client, name: str, **kwargs) -> types.CustomJob:
    return client.get_custom_job(name=name, timeout=5, **kwargs)


def test_a_job_runs_until_the_test_releases_it_then_succeeds(fake, client):
    sent = custom_job("lb-train", launchbay_run="7", team="nlp")

    created = create(client, sent)
    seen = [get(client, created.name) for _ in range(12)]
    fake.release(created.name)
    done = get(client, created.name)

    assert created.name == f"{PARENT}/customJobs/1"
    assert created.state == State.JOB_STATE_QUEUED
    # However often it is read, a held job runs on: it ends when the test says so.
    assert [job.state for job in seen] == [
        State.JOB_STATE_PENDING,
        *[State.JOB_STATE_RUNNING] * 11,
    ]
    assert done.state == State.JOB_STATE_SUCCEEDED
    assert (done.display_name, dict(done.labels)) == (
        "lb-train",
        {"launchbay_run": "7", "team": "nlp"},
    )
    assert done.job_spec == sent.job_spec
    assert done.create_time <= done.start_time <= done.end_time
    assert "error" not in done
    assert get(client, created.name).state == State.JOB_STATE_SUCCEEDED  # ended jobs stay put


def test_a_job_created_while_not_holding_succeeds_at_its_third_get(fake, client):
    held = create(client).name
    fake.hold = False
    free = create(client).name

    states = [get(client, free).state for _ in range(4)]

    assert states == [
        State.JOB_STATE_PENDING,
        State.JOB_STATE_RUNNING,
        State.JOB_STATE_SUCCEEDED,
        State.JOB_STATE_SUCCEEDED,
    ]
    assert [get(client, held).state for _ in range(3)][-1] == State.JOB_STATE_RUNNING


def test_a_job_released_while_queued_goes_through_running(fake, client):
    name = create(client).name
    fake.release(name)

    states = [get(client, name).state for _ in range(3)]

    assert states == [
        State.JOB_STATE_PENDING,
        State.JOB_STATE_RUNNING,
        State.JOB_STATE_SUCCEEDED,
    ]
    with pytest.raises(ValueError, match="already ended"):
        fake.release(name)
    with pytest.raises(KeyError, match="no CustomJob named"):
        fake.release(f"{PARENT}/customJobs/999")


def test_a_failed_job_shows_its_error(fake, client):
    name = create(client).name
    get(client, name)

    fake.fail(name, "The replica workerpool0-0 exited with a non-zero status of 137.", code=3)
    failed = get(client, name)

    assert failed.state == State.JOB_STATE_FAILED
    assert (failed.error.code, failed.error.message) == (
        3,
        "The replica workerpool0-0 exited with a non-zero status of 137.",
    )
    assert failed.end_time >= failed.create_time
    assert get(client, name).state == State.JOB_STATE_FAILED


def test_cancel_moves_a_job_through_cancelling_to_cancelled(client):
    name = create(client).name
    get(client, name)

    client.cancel_custom_job(name=name, timeout=5)
    listed = list(client.list_custom_jobs(parent=PARENT, timeout=5))  # List does not advance
    cancelled = get(client, name)

    assert [job.state for job in listed] == [State.JOB_STATE_CANCELLING]
    assert cancelled.state == State.JOB_STATE_CANCELLED
    assert cancelled.error.code == 1  # google.rpc.Code.CANCELLED, as Vertex documents


def test_cancelling_an_ended_job_is_a_failed_precondition(fake, client):
    name = create(client).name
    fake.release(name)
    for _ in range(3):
        get(client, name)

    with pytest.raises(exceptions.FailedPrecondition, match="cannot be cancelled"):
        client.cancel_custom_job(name=name, timeout=5)
    assert fake.jobs()[0].state == State.JOB_STATE_SUCCEEDED


def test_unknown_and_forgotten_jobs_are_not_found(fake, client):
    name = create(client).name
    fake.forget(name)

    with pytest.raises(exceptions.NotFound, match="does not exist"):
        get(client, f"{PARENT}/customJobs/999")
    with pytest.raises(exceptions.NotFound):
        get(client, name)
    with pytest.raises(exceptions.NotFound):
        client.cancel_custom_job(name=name, timeout=5)


def test_an_explicit_retry_rides_out_unavailable_gets(fake, client):
    name = create(client).name
    fake.unavailable(2, "GetCustomJob")
    retry = Retry(
        initial=0.1,
        maximum=0.5,
        timeout=10,
        predicate=if_exception_type(exceptions.ServiceUnavailable),
    )

    job = get(client, name, retry=retry)

    assert job.state == State.JOB_STATE_PENDING  # the refused calls did not advance it
    assert fake.calls.count(("GetCustomJob", name)) == 3


def test_without_a_retry_unavailable_reaches_the_caller(fake, client):
    # The generated client has no default retry for the custom-job methods: the runner must
    # pass one.
    name = create(client).name
    fake.unavailable(1)

    with pytest.raises(exceptions.ServiceUnavailable, match="the service is unavailable"):
        get(client, name)
    assert get(client, name).state == State.JOB_STATE_PENDING


def test_list_filters_by_label_and_display_name_and_pages(fake, client):
    create(client, custom_job("a", team="nlp"))
    create(client, custom_job("b", team="nlp"))
    create(client, custom_job("c", team="vision"))

    def names(filter: str, page_size: int = 0) -> list[str]:
        # filter and page_size are not flattened arguments: they go in the request.
        request = types.ListCustomJobsRequest(parent=PARENT, filter=filter, page_size=page_size)
        return [job.display_name for job in client.list_custom_jobs(request=request, timeout=5)]

    assert names('labels.team="nlp"') == ["a", "b"]
    assert names("labels.team=vision") == ["c"]
    assert names('labels.team=nlp AND display_name="b"') == ["b"]
    assert names("state=JOB_STATE_QUEUED", page_size=1) == ["a", "b", "c"]  # three pages
    assert fake.calls.count(("ListCustomJobs", PARENT)) == 3 + 3
    assert [job.state for job in fake.jobs()] == [State.JOB_STATE_QUEUED] * 3
    with pytest.raises(exceptions.InvalidArgument, match="Unsupported filter"):
        names('display_name:"a*"')


def test_list_sees_only_the_parents_jobs(client):
    create(client)

    other = client.list_custom_jobs(parent="projects/other/locations/europe-west4", timeout=5)

    assert list(other) == []


def pool(job: types.CustomJob) -> types.WorkerPoolSpec:
    return job.job_spec.worker_pool_specs[0]


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda job: delattr(job.job_spec, "worker_pool_specs"), "worker_pool_specs must be"),
        (lambda job: delattr(pool(job).container_spec, "image_uri"), "image_uri must be specified"),
        (lambda job: delattr(pool(job).machine_spec, "machine_type"), "machine_type must be"),
        (lambda job: delattr(job, "display_name"), "display_name must be specified"),
        (lambda job: job.labels.update({"Team": "nlp"}), "Invalid label Team"),
        (lambda job: job.labels.update({"7team": "nlp"}), "Invalid label 7team"),
        (lambda job: job.labels.update({"team": "NLP"}), "Invalid label team"),
        (lambda job: job.labels.update({"team": "x" * 64}), "at most 63 characters"),
    ],
)
def test_an_invalid_job_is_refused_with_invalid_argument(fake, client, spoil, message):
    job = custom_job()
    spoil(job)

    with pytest.raises(exceptions.InvalidArgument, match=message):
        create(client, job)
    assert fake.jobs() == []


@pytest.mark.slow
def test_a_subprocess_inherits_the_trust_and_reaches_the_fake(fake, client):
    name = create(client).name
    script = textwrap.dedent(f"""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud.aiplatform_v1 import JobServiceClient
        client = JobServiceClient(credentials=AnonymousCredentials(),
                                  client_options={{"api_endpoint": "{fake.api_endpoint}"}})
        print(client.get_custom_job(name="{name}", timeout=5).state.name)
    """)

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)

    assert (done.returncode, done.stdout.strip()) == (0, "JOB_STATE_PENDING"), done.stderr

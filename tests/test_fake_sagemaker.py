"""The fake SageMaker (tests/fakes/sagemaker.py) seen through the real boto3: what launchbay's
SageMaker runner meets there is what these tests prove.

The throttling test waits out botocore's real backoff (standard mode: up to 1 + 2 + 4 s).
"""

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from fakes.sagemaker import LOG_GROUP, FakeSageMaker
from moto.moto_server import threaded_moto_server
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

ROLE = "arn:aws:iam::123456789012:role/launchbay"


@pytest.fixture
def fake():
    fake = FakeSageMaker()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def sagemaker(fake):
    return fake.client("sagemaker")


def create_job(sagemaker, name: str, **fields) -> str:
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "lb/train:1", "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://launchbay-out/runs"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        **fields,
    }
    return sagemaker.create_training_job(**request)["TrainingJobArn"]


def statuses(job: dict) -> tuple[str, str]:
    return job["TrainingJobStatus"], job["SecondaryStatus"]


def error_of(exc_info) -> tuple[int, str, str]:
    response = exc_info.value.response
    error = response["Error"]
    return response["ResponseMetadata"]["HTTPStatusCode"], error["Code"], error["Message"]


def describe_statuses(sagemaker, name: str, times: int) -> list[tuple[str, str]]:
    return [statuses(sagemaker.describe_training_job(TrainingJobName=name)) for _ in range(times)]


def test_a_job_trains_until_the_test_releases_it_then_completes(fake, sagemaker):
    create_job(sagemaker, "lb-steps")
    assert statuses(fake.jobs()[0]) == ("InProgress", "Starting")

    seen = describe_statuses(sagemaker, "lb-steps", 12)
    fake.release("lb-steps")
    after = describe_statuses(sagemaker, "lb-steps", 2)

    # However often it is described, a held job trains on: it ends when the test says so.
    assert seen == [("InProgress", "Downloading"), *[("InProgress", "Training")] * 11]
    assert after == [("InProgress", "Uploading"), ("Completed", "Completed")]
    job = sagemaker.describe_training_job(TrainingJobName="lb-steps")
    assert statuses(job) == ("Completed", "Completed")  # an ended job stays put
    transitions = job["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert all(t["StatusMessage"] and t["StartTime"] <= t["EndTime"] for t in transitions)
    assert job["CreationTime"] <= job["TrainingStartTime"] <= job["TrainingEndTime"]
    assert job["ModelArtifacts"]["S3ModelArtifacts"].endswith("lb-steps/output/model.tar.gz")
    assert fake.requests.count(("DescribeTrainingJob", "lb-steps")) == 15


def test_a_job_created_while_not_holding_completes_at_its_fourth_describe(fake, sagemaker):
    create_job(sagemaker, "lb-held")
    fake.hold = False
    create_job(sagemaker, "lb-free")

    seen = describe_statuses(sagemaker, "lb-free", 5)

    assert seen == [
        ("InProgress", "Downloading"),
        ("InProgress", "Training"),
        ("InProgress", "Uploading"),
        ("Completed", "Completed"),
        ("Completed", "Completed"),
    ]
    assert describe_statuses(sagemaker, "lb-held", 5)[-1] == ("InProgress", "Training")
    with pytest.raises(ValueError, match="already ended"):
        fake.release("lb-free")
    with pytest.raises(KeyError):
        fake.release("lb-nobody")


def test_a_running_job_has_no_end_time_nor_artifacts_and_looking_does_not_move_it(fake, sagemaker):
    create_job(sagemaker, "lb-running")
    sagemaker.describe_training_job(TrainingJobName="lb-running")

    listed = sagemaker.list_training_jobs(NameContains="running")["TrainingJobSummaries"]
    fake.jobs()
    job = sagemaker.describe_training_job(TrainingJobName="lb-running")

    assert [(s["TrainingJobName"], s["SecondaryStatus"]) for s in listed] == [
        ("lb-running", "Downloading")
    ]
    assert statuses(job) == ("InProgress", "Training")
    assert "TrainingEndTime" not in job and "ModelArtifacts" not in job
    assert "EndTime" not in job["SecondaryStatusTransitions"][-1]


def test_fail_shows_failed_with_the_reason_at_the_next_describe(fake, sagemaker):
    create_job(sagemaker, "lb-fail")
    sagemaker.describe_training_job(TrainingJobName="lb-fail")

    fake.fail("lb-fail", "AlgorithmError: exit code 3")
    job = sagemaker.describe_training_job(TrainingJobName="lb-fail")

    assert statuses(job) == ("Failed", "Failed")
    assert job["FailureReason"] == "AlgorithmError: exit code 3"
    assert job["SecondaryStatusTransitions"][-1]["Status"] == "Failed"
    assert "TrainingEndTime" in job
    with pytest.raises(ValueError):
        fake.fail("lb-fail", "twice")  # an ended job can't fail again


def test_stop_moves_a_running_job_to_stopping_then_stopped(fake, sagemaker):
    create_job(sagemaker, "lb-stop")
    sagemaker.describe_training_job(TrainingJobName="lb-stop")

    sagemaker.stop_training_job(TrainingJobName="lb-stop")
    stopping = sagemaker.list_training_jobs(StatusEquals="Stopping")["TrainingJobSummaries"]
    sagemaker.stop_training_job(TrainingJobName="lb-stop")  # stopping twice is no error
    job = sagemaker.describe_training_job(TrainingJobName="lb-stop")

    assert [(s["TrainingJobName"], s["SecondaryStatus"]) for s in stopping] == [
        ("lb-stop", "Stopping")
    ]
    assert statuses(job) == ("Stopped", "Stopped")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]][-2:] == ["Stopping", "Stopped"]
    assert ("StopTrainingJob", "lb-stop") in fake.requests


def test_stopping_an_ended_or_unknown_job_is_a_validation_error(fake, sagemaker):
    create_job(sagemaker, "lb-done")
    fake.release("lb-done")
    assert describe_statuses(sagemaker, "lb-done", 4)[-1] == ("Completed", "Completed")

    with pytest.raises(ClientError) as ended:
        sagemaker.stop_training_job(TrainingJobName="lb-done")
    with pytest.raises(ClientError) as unknown:
        sagemaker.stop_training_job(TrainingJobName="lb-nobody")

    assert error_of(ended) == (
        400,
        "ValidationException",
        "The request was rejected because the training job is in status Completed.",
    )
    assert error_of(unknown)[:2] == (400, "ValidationException")


def test_a_taken_job_name_is_refused_with_resource_in_use(sagemaker):
    arn = create_job(sagemaker, "lb-twice")

    with pytest.raises(ClientError) as taken:
        create_job(sagemaker, "lb-twice")

    status, code, message = error_of(taken)
    assert (status, code) == (400, "ResourceInUse")
    assert message.startswith("Training job names must be unique within an AWS account and region")
    assert arn in message


def test_spot_interruption_shows_interrupted_then_max_wait_time_exceeded(fake, sagemaker):
    create_job(
        sagemaker,
        "lb-spot",
        EnableManagedSpotTraining=True,
        StoppingCondition={"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 1200},
    )
    create_job(sagemaker, "lb-on-demand")
    sagemaker.describe_training_job(TrainingJobName="lb-spot")

    fake.interrupt("lb-spot")
    waiting = sagemaker.describe_training_job(TrainingJobName="lb-spot")
    job = sagemaker.describe_training_job(TrainingJobName="lb-spot")

    assert statuses(waiting) == ("InProgress", "Interrupted")
    assert statuses(job) == ("Stopped", "MaxWaitTimeExceeded")
    kinds = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert kinds[-2:] == ["Interrupted", "MaxWaitTimeExceeded"]
    assert "EndTime" in job["SecondaryStatusTransitions"][-1]
    assert "FailureReason" not in job
    with pytest.raises(ValueError):
        fake.interrupt("lb-on-demand")  # only managed spot jobs are interrupted


@pytest.mark.parametrize(
    "stopping",
    [{"MaxRuntimeInSeconds": 600}, {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 599}],
    ids=["no-max-wait", "max-wait-too-short"],
)
def test_a_spot_job_without_a_long_enough_max_wait_is_refused_as_aws_does(
    fake, sagemaker, stopping
):
    with pytest.raises(ClientError) as refused:
        create_job(sagemaker, "lb-spot", EnableManagedSpotTraining=True, StoppingCondition=stopping)

    status, code, message = error_of(refused)
    assert (status, code) == (400, "ValidationException")
    assert "MaxWaitTimeInSeconds" in message
    assert fake.jobs() == []


def test_throttled_requests_are_retried_by_standard_retry_mode(fake):
    patient = fake.client(
        "sagemaker", config=Config(retries={"mode": "standard", "max_attempts": 5})
    )
    fake.throttle(3)

    answer = patient.list_training_jobs()

    # Four requests: botocore's max_attempts counts retries, not attempts.
    assert answer["ResponseMetadata"]["RetryAttempts"] == 3
    assert fake.requests == [("ListTrainingJobs", None)] * 4


def test_throttling_past_the_retries_raises_throttling_exception(fake):
    # botocore's max_attempts counts retries: 1 means two requests.
    hasty = fake.client("sagemaker", config=Config(retries={"mode": "standard", "max_attempts": 1}))
    fake.throttle(3)

    with pytest.raises(ClientError) as throttled:
        hasty.describe_training_job(TrainingJobName="lb-any")

    assert error_of(throttled) == (400, "ThrottlingException", "Rate exceeded")
    assert fake.requests == [("DescribeTrainingJob", "lb-any")] * 2


def test_log_lines_are_read_back_from_the_jobs_stream(fake):
    logs = fake.client("logs")
    fake.put_log_lines("lb-logs", ["epoch 1", "epoch 2"])
    fake.put_log_lines("lb-logs", ["done"])
    fake.put_log_lines("lb-logs-other", ["not ours"])

    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix="lb-logs/")
    events = logs.get_log_events(
        logGroupName=LOG_GROUP, logStreamName="lb-logs/algo-1-1700000000", startFromHead=True
    )["events"]

    assert [s["logStreamName"] for s in streams["logStreams"]] == ["lb-logs/algo-1-1700000000"]
    assert [e["message"] for e in events] == ["epoch 1", "epoch 2", "done"]
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(set(stamps))


def test_request_fields_and_tags_round_trip(sagemaker):
    arn = create_job(
        sagemaker,
        "lb-fields",
        AlgorithmSpecification={
            "TrainingImage": "lb/train:1",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python", "-m", "train"],
            "ContainerArguments": ["--lr", "0.1"],
            "MetricDefinitions": [{"Name": "loss", "Regex": "loss=(\\S+)"}],
        },
        Environment={"LAUNCHBAY_RUN_ID": "r1", "LAUNCHBAY_CONFIG_0": "{}"},
        HyperParameters={"epochs": "3"},
        RetryStrategy={"MaximumRetryAttempts": 2},
        Tags=[{"Key": "launchbay:run-id", "Value": "r1"}, {"Key": "launchbay:queue", "Value": "q"}],
    )

    job = sagemaker.describe_training_job(TrainingJobName="lb-fields")
    tags = sagemaker.list_tags(ResourceArn=arn)["Tags"]
    named = sagemaker.list_training_jobs(NameContains="fields")["TrainingJobSummaries"]
    found = sagemaker.search(
        Resource="TrainingJob",
        SearchExpression={
            "Filters": [{"Name": "Tags.launchbay:run-id", "Operator": "Equals", "Value": "r1"}]
        },
    )["Results"]

    algorithm = job["AlgorithmSpecification"]
    assert algorithm["ContainerEntrypoint"] == ["python", "-m", "train"]
    assert algorithm["ContainerArguments"] == ["--lr", "0.1"]
    assert algorithm["MetricDefinitions"] == [{"Name": "loss", "Regex": "loss=(\\S+)"}]
    assert job["Environment"] == {"LAUNCHBAY_RUN_ID": "r1", "LAUNCHBAY_CONFIG_0": "{}"}
    assert job["HyperParameters"] == {"epochs": "3"}
    assert job["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert {"Key": "launchbay:run-id", "Value": "r1"} in tags and len(tags) == 2
    assert [s["TrainingJobArn"] for s in named] == [arn]
    assert [r["TrainingJob"]["TrainingJobArn"] for r in found] == [arn]


def test_s3_works_on_the_same_server(fake):
    s3 = fake.client("s3")
    s3.create_bucket(Bucket="launchbay-configs")
    s3.put_object(Bucket="launchbay-configs", Key="runs/r1.json", Body=b'{"lr": 0.1}')

    body = s3.get_object(Bucket="launchbay-configs", Key="runs/r1.json")["Body"].read()

    assert body == b'{"lr": 0.1}'
    assert fake.requests == []  # only SageMaker requests are counted


def test_stop_undoes_the_patches_and_the_next_server_starts_empty():
    patched = [
        (SageMakerModelBackend, "create_training_job"),
        (SageMakerModelBackend, "describe_training_job"),
        (SageMakerModelBackend, "list_training_jobs"),
        (SageMakerResponse, "create_training_job"),
        (SageMakerResponse, "call_action"),
        (threaded_moto_server, "make_server"),
    ]
    originals = [getattr(owner, name) for owner, name in patched]
    first = FakeSageMaker()
    first.start()
    try:
        create_job(first.client("sagemaker"), "lb-left-behind")
    finally:
        first.stop()

    assert [getattr(owner, name) for owner, name in patched] == originals
    assert not hasattr(SageMakerResponse, "stop_training_job")

    second = FakeSageMaker()
    second.start()
    try:
        listed = second.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    finally:
        second.stop()
    assert listed == []

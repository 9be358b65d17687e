"""The sagemaker resource: boto3 against moto's real server, patched so training jobs train until
the test releases them, fail, stop and get interrupted (tests/fakes/sagemaker.py): the contract
(TestContract, see contract.py), and what only sagemaker does (CloudWatch streams, long configs,
throttling, snake_case fields)."""

import json

import pytest
from contract import RunnerContract
from contract_backend import PlayedByAFake, Seen
from kit import (
    AgentThread,
    fresh_registry,
    launch,
    lines_after_a_kill_between_copy_and_cursor,
    log_of,
    pushed_image,
    run_agent_until_empty,
    run_of,
)
from kit.aws import BUCKET, TRAINING_ARGS, sagemaker_queue
from test_sagemaker_checks import SPOT, training_job

from runners.catalog.queues import check_queue_config
from runners.targets.sagemaker.logs import CloudWatchFollower
from runners.targets.sagemaker.request import training_job_name
from store import RunState


def described(aws, name: str) -> dict:
    return next(job for job in aws.jobs() if job["TrainingJobName"] == name)


def test_every_instances_cloudwatch_stream_reaches_the_log_with_its_host(store, db_path, aws):
    resources = {**TRAINING_ARGS["ResourceConfig"], "InstanceCount": 2}
    sagemaker_queue(store, aws, resource_args={"ResourceConfig": resources})
    training_job(store)
    item = launch(store, "train", "sm")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        name = training_job_name("train", run.id)
        aws.put_log_lines(name, ["chief up"], stream_suffix="algo-1-1700000000")
        aws.put_log_lines(name, ["worker up"], stream_suffix="algo-2-1700000000")
        aws.release(name)
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    lines = log_of(store, run.id).splitlines()
    assert lines.count("[algo-1-1700000000] chief up") == 1
    assert lines.count("[algo-2-1700000000] worker up") == 1


def test_lines_copied_by_an_agent_killed_before_it_recorded_them_are_not_copied_again(
    aws, tmp_path
):
    log, logs, name = tmp_path / "output.log", aws.client("logs"), "train-lb-unrecorded"
    lines = lines_after_a_kill_between_copy_and_cursor(
        lambda: CloudWatchFollower(logs, name, log, tmp_path, every=0.05).start(),
        log,
        tmp_path / "cloudwatch_tokens.json",
        lambda lines: aws.put_log_lines(name, lines),
    )
    assert lines == ["one", "two", "three"]


def test_a_long_run_config_goes_in_chunks_or_through_s3(store, db_path, aws):
    sagemaker_queue(store, aws)
    training_job(store)
    medium = {"notes": "x" * 1500}
    huge = {"vocabulary": [f"token{i:05d}" for i in range(4000)]}
    aws.hold = False
    medium_item = launch(store, "train", "sm", spec={"overrides": {"run_config": medium}})
    huge_item = launch(store, "train", "sm", spec={"overrides": {"run_config": huge}})
    with AgentThread(db_path, max_jobs=2):
        medium_run, huge_run = run_of(store, medium_item), run_of(store, huge_item)
    env = described(aws, training_job_name("train", medium_run.id))["Environment"]
    chunks = int(env["LAUNCHBAY_CONFIG_CHUNKS"])
    assert chunks > 1 and all(len(value) <= 512 for value in env.values())
    assert json.loads("".join(env[f"LAUNCHBAY_CONFIG_{i}"] for i in range(chunks))) == medium
    env = described(aws, training_job_name("train", huge_run.id))["Environment"]
    assert not any(key.startswith("LAUNCHBAY_CONFIG_") and key[-1].isdigit() for key in env)
    bucket, _, key = env["LAUNCHBAY_CONFIG_URI"].removeprefix("s3://").partition("/")
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert json.loads(body) == huge


def test_throttled_calls_are_retried_and_the_run_still_starts(store, db_path, aws):
    sagemaker_queue(store, aws)
    training_job(store)
    aws.hold = False
    aws.throttle(3)
    item = launch(store, "train", "sm")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    creates = [action for action, _ in aws.requests if action == "CreateTrainingJob"]
    assert len(creates) == 4  # three throttled, the fourth accepted


def test_snake_case_fields_and_a_bare_role_name_are_accepted(store, db_path, aws, cli, monkeypatch):
    snake = {
        "role_arn": "Training",
        "output_data_config": {"s3_output_path": f"s3://{BUCKET}/runs"},
        "resource_config": {
            "instance_type": "ml.g5.xlarge",
            "instance_count": 2,
            "volume_size_in_gb": 50,
        },
        "stopping_condition": {"max_runtime_in_seconds": 600},
    }
    target = {"endpoint_url": aws.endpoint_url, "region": "us-east-1", "poll_seconds": 0.2}
    config = {"resource_args": snake, "target": target}
    aws.hold = False
    store.queues.create("snake", "sagemaker", check_queue_config("sagemaker", config))
    training_job(store)
    with monkeypatch.context() as no_credentials:  # a dry run asks nothing of AWS
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            no_credentials.delenv(name)
        no_credentials.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        no_credentials.setenv("AWS_CONFIG_FILE", "/nonexistent")
        result = cli("launch", "-j", "train", "-q", "snake", "--dry-run")
    assert result.code == 0, result.err
    request = json.loads(result.out)["submission"]["CreateTrainingJob"]
    assert request["ResourceConfig"] == {
        "InstanceType": "ml.g5.xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 50,
    }
    # The account is asked of STS at submit, with the agent's credentials.
    account = "<the account of the agent's credentials>"
    assert request["RoleArn"] == f"arn:aws:iam::{account}:role/Training"
    assert request["TrainingJobName"] == "launchbay-train-dryrun00"

    item = launch(store, "train", "snake")
    output = run_agent_until_empty(db_path, "snake")
    run = run_of(store, item)
    assert run.state is RunState.FINISHED, output
    submitted = described(aws, training_job_name("train", run.id))
    assert submitted["RoleArn"] == "arn:aws:iam::123456789012:role/Training"  # moto's account
    assert submitted["ResourceConfig"]["InstanceCount"] == 2


class SageMaker(PlayedByAFake):
    """moto's server, patched: a training job trains until released (tests/fakes/sagemaker.py)."""

    resource = "sagemaker"
    failure_says = "AlgorithmError: loss is NaN at step 812"
    vanished_says = "no longer exists (deleted outside launchbay)"
    escape = (
        {},
        {"RoleArn": "arn:aws:iam::123456789012:role/Admin"},
        ("resource_args.RoleArn", "can be set only in the queue's own config"),
    )
    preemptible = True
    preemptible_args = SPOT

    def __init__(self, aws):
        super().__init__()
        self.aws = aws

    def queue(self, store, resource_args=None, **extra):
        sagemaker_queue(store, self.aws, "q", resource_args=resource_args, **extra)

    def create_job(self, store, name):
        training_job(store, name)

    def _name(self, run) -> str:
        return training_job_name(run.spec["job"]["name"], run.id)

    def started(self, store, run):
        assert run.message.startswith("Training")  # the SecondaryStatus as the run's message
        super().started(store, run)

    def write_lines(self, run, lines, at_end=False):
        self.aws.put_log_lines(self._name(run), lines)

    def end(self, run, failure):
        if failure:
            self.aws.fail(self._name(run), failure)
        else:
            self.aws.release(self._name(run))

    def seen(self, store, run):
        env = described(self.aws, self._name(run))["Environment"]
        return Seen(env, json.loads(env["LAUNCHBAY_CONFIG"]))

    def vanish(self, store, run):
        self.aws.forget(self._name(run))

    def preempt(self, store, run):
        self.aws.interrupt(self._name(run))

    def registry(self):
        return fresh_registry("sm-test")

    def run_freely(self):
        self.aws.hold = False  # nothing to do while it trains: it ends by itself

    def check_finished(self, store, run):
        job = described(self.aws, self._name(run))
        algorithm = job["AlgorithmSpecification"]
        assert algorithm["TrainingImage"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1"
        assert algorithm["ContainerEntrypoint"] == ["python", "train.py", "--epochs", "2"]
        assert algorithm["ContainerArguments"] == ["--lr", "0.1"]
        config_file = job["Environment"]["LAUNCHBAY_CONFIG_FILE"]
        assert config_file == "/opt/ml/input/data/launchbay-config/config.json"
        tags = {
            t["Key"]: t["Value"]
            for t in self.aws.client("sagemaker").list_tags(ResourceArn=job["TrainingJobArn"])[
                "Tags"
            ]
        }
        assert tags["launchbay:run-id"] == run.id

    def check_cancelled(self, store, run):
        assert ("StopTrainingJob", self._name(run)) in self.aws.requests

    def check_readopted(self, store, run, output):
        super().check_readopted(store, run, output)
        creates = [name for action, name in self.aws.requests if action == "CreateTrainingJob"]
        assert creates.count(self._name(run)) == 1
        assert run.handle["job_name"] == self._name(run)

    def check_built(self, store, run, registry):
        image = described(self.aws, self._name(run))["AlgorithmSpecification"]
        assert image["TrainingImage"] == pushed_image(registry["registry"])


@pytest.fixture
def backend(aws):
    return SageMaker(aws)


class TestContract(RunnerContract):
    backend_class = SageMaker

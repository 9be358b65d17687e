"""The sagemaker resource's checks and dry run, made at queue create, launch and --dry-run
without asking AWS: the CreateTrainingJob fields (botocore's model of the API, the fields a job
can't go without, managed spot's MaxWaitTimeInSeconds), the request a launch would send, and
how DescribeTrainingJob's answer maps to a run's state. tests/runners/test_sagemaker.py runs the
jobs."""

import json

import pytest
import yaml
from kit import REPO, assert_bad_input, snapshot
from kit.aws import ROLE, TRAINING_ARGS

from runners.catalog.jobs import create_job
from runners.catalog.queues import check_queue_config
from store import RunState

SPOT = {
    "EnableManagedSpotTraining": True,
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
}


def training_job(store, name="train", entrypoint="python train.py --epochs 2"):
    return create_job(
        store,
        "image",
        name,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
        entrypoint=entrypoint,
    ).version


# An endpoint nothing here reaches: checks and dry runs ask nothing of AWS.
TARGET = {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:9"}


def sagemaker_queue(store, name="sm", resource_args=None):
    config = {"resource_args": {**TRAINING_ARGS, **(resource_args or {})}, "target": TARGET}
    return store.queues.create(name, "sagemaker", check_queue_config("sagemaker", config))


@pytest.mark.parametrize(
    ("resource_args", "fragments"),
    [
        ({"RoleArn": "arn:aws:iam::12:role/x"}, ["resource_args.RoleArn", "queue's own config"]),
        (
            {"role_arn": "arn:aws:iam::123456789012:role/Admin", "RoleArn": ROLE},
            ["resource_args.RoleArn", "given twice"],
        ),
        ({"EnableNetworkIsolation": False}, ["resource_args.EnableNetworkIsolation"]),
        (
            {"OutputDataConfig": {"S3OutputPath": "/local/dir"}},
            ["resource_args.OutputDataConfig.S3OutputPath", "s3://BUCKET/PREFIX"],
        ),
        (
            {"ResourceConfig": {"VolumeSizeInGB": None}},
            ["resource_args.ResourceConfig.VolumeSizeInGB: missing"],
        ),
        (
            {"StoppingCondition": {"MaxRuntimeInSeconds": None}},
            ["resource_args.StoppingCondition.MaxRuntimeInSeconds"],
        ),
        (
            {
                "ResourceConfig": {
                    "instance_type": "ml.m5.xlarge",
                    "instance_count": "two",
                    "volume_size_in_gb": 30,
                }
            },
            ["resource_args.ResourceConfig.InstanceCount", "valid types"],
        ),
        ({"training_image": "x"}, ["resource_args.training_image: unknown field", "RoleArn"]),
        ({"Environment": {"BIG": "x" * 600}}, ["resource_args.Environment.BIG", "512"]),
        (
            {"EnableManagedSpotTraining": True},
            ["resource_args.StoppingCondition.MaxWaitTimeInSeconds: missing", "spot"],
        ),
        (
            {
                "EnableManagedSpotTraining": True,
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 1800},
            },
            ["resource_args.StoppingCondition.MaxWaitTimeInSeconds", "less than", "3600"],
        ),
    ],
    ids=[
        "role",
        "two-spellings",
        "isolation",
        "output",
        "volume",
        "stopping",
        "type",
        "unknown",
        "env-cap",
        "spot-no-max-wait",
        "spot-max-wait-short",
    ],
)
def test_missing_or_malformed_training_fields_are_named_at_launch_and_dry_run(
    store, db_path, cli, resource_args, fragments
):
    sagemaker_queue(store)
    training_job(store)
    spec = {"resource_args": resource_args}
    for extra in ([], ["--dry-run"]):
        before = snapshot(db_path)
        result = cli("launch", "-j", "train", "-q", "sm", "-c", json.dumps(spec), *extra)
        assert_bad_input(result, *fragments)
        assert snapshot(db_path) == before


@pytest.mark.parametrize(
    ("role", "fragments"),
    [
        (None, ["resource_args.RoleArn: missing"]),
        ("arn:aws:iam::12:role/x", ["IAM role ARN"]),
        ("arn:aws:iam::123456789012:role/x\n", ["IAM role ARN"]),
        ("trainer\n", ["IAM role ARN"]),
    ],
    ids=["missing", "malformed", "arn-newline", "name-newline"],
)
def test_a_queue_without_a_valid_role_is_refused(cli, role, fragments):
    args = {**TRAINING_ARGS, "RoleArn": role}
    config = json.dumps({"resource_args": args, "target": TARGET})
    assert_bad_input(cli("queue", "create", "norole", "-r", "sagemaker", "-c", config), *fragments)


def test_a_spot_queue_without_max_wait_is_refused_and_the_readme_example_is_taken(
    store, db_path, cli
):
    spot = {**TRAINING_ARGS, "EnableManagedSpotTraining": True}
    config = json.dumps({"resource_args": spot, "target": TARGET})
    before = snapshot(db_path)
    assert_bad_input(
        cli("queue", "create", "spot", "-r", "sagemaker", "-c", config),
        "resource_args.StoppingCondition.MaxWaitTimeInSeconds: missing",
    )
    assert snapshot(db_path) == before
    readme = (REPO / "README.md").read_text()
    example = readme.split("### SageMaker queues", 1)[1].split("```yaml", 1)[1].split("```")[0]
    config = json.dumps(yaml.safe_load(example))
    result = cli("queue", "create", "spot", "-r", "sagemaker", "-c", config)
    assert result.code == 0, result.err


def test_a_secret_cut_across_two_config_chunks_is_hidden_in_both(store, cli):
    sagemaker_queue(store)
    training_job(store)
    secret = "hf_" + "s3cr3t" * 7
    # Sorted, the config reads {"a_pad": "x…x", "hf_token": "<secret>"}: the secret starts at
    # character 500 and SageMaker's 512-character chunks cut it in two.
    config = {"a_pad": "x" * 473, "hf_token": secret}
    spec = {"overrides": {"run_config": config}}
    result = cli("launch", "-j", "train", "-q", "sm", "-c", json.dumps(spec), "--dry-run")
    assert result.code == 0, result.err
    env = json.loads(result.out)["submission"]["CreateTrainingJob"]["Environment"]
    assert env["LAUNCHBAY_CONFIG_CHUNKS"] == "2"
    first, second = env["LAUNCHBAY_CONFIG_0"], env["LAUNCHBAY_CONFIG_1"]
    assert first.endswith('"hf_token": "***') and second == '***"}'
    for piece in (secret[:12], secret[12:]):
        assert piece not in result.out


def _described(status: str, secondary: str, *history: str, reason: str | None = None) -> dict:
    transitions = [{"Status": s, "StatusMessage": f"{s} happened"} for s in (*history, secondary)]
    job = {
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "SecondaryStatusTransitions": transitions,
    }
    return {**job, "FailureReason": reason} if reason else job


@pytest.mark.parametrize(
    ("job", "state", "message"),
    [
        (_described("InProgress", "Starting"), RunState.STARTING, "Starting: Starting happened"),
        (_described("InProgress", "Training", "Starting"), RunState.RUNNING, "Training"),
        (
            _described("InProgress", "Interrupted", "Starting", "Training"),
            RunState.STARTING,  # waiting for spot capacity again
            "Interrupted: Interrupted happened",
        ),
        (
            _described("Stopped", "MaxWaitTimeExceeded", "Training", "Interrupted"),
            RunState.PREEMPTED,
            "spot capacity reclaimed",
        ),
        # Interrupted, resumed by SageMaker when capacity came back, then failed on its own.
        (
            _described("Failed", "Failed", "Training", "Interrupted", "Training", reason="OOM"),
            RunState.FAILED,
            "OOM",
        ),
        # Interrupted earlier, then stopped by someone: stopped, not requeued.
        (
            _described("Stopped", "Stopped", "Training", "Interrupted", "Training"),
            RunState.STOPPED,
            "Stopped",
        ),
        (_described("Stopping", "Stopping", "Training"), RunState.STOPPING, "Stopping"),
        (_described("Completed", "Completed", "Training"), RunState.FINISHED, "Completed"),
    ],
    ids=[
        "starting",
        "running",
        "interrupted-waiting",
        "max-wait",
        "failed-after-interruption",
        "stopped-after-interruption",
        "stopping",
        "completed",
    ],
)
def test_describe_training_job_maps_to_run_states(job, state, message):
    from runners.targets.sagemaker.status import job_status

    status = job_status(job)
    assert status.state is state
    assert message in status.message


def test_an_ended_training_job_carries_its_end_time_and_a_live_one_none():
    import datetime

    from runners.targets.sagemaker.status import job_status

    ended = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    job = {"TrainingJobStatus": "Failed", "FailureReason": "x", "TrainingEndTime": ended}
    assert job_status(job).ended_at == ended.timestamp()
    running = {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Training"}
    assert job_status(running).ended_at is None

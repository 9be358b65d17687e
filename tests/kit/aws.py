"""AWS played by moto's real server (tests/fakes/sagemaker.py: training jobs train until a test
releases them), its bucket for training output, and a sagemaker queue that points at it.
Imported as kit.aws; the `aws` fixture is registered in tests/conftest.py."""

import pytest

from runners.catalog.queues import check_queue_config

BUCKET = "lb-out"
ROLE = "arn:aws:iam::123456789012:role/Training"
TRAINING_ARGS = {
    "RoleArn": ROLE,
    "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/runs"},
    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


@pytest.fixture
def aws(monkeypatch):
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from fakes.sagemaker import FakeSageMaker  # moto: loaded by the tests that use it only

    fake = FakeSageMaker()  # jobs stay Training until the test releases them
    fake.start()
    fake.client("s3").create_bucket(Bucket=BUCKET)
    yield fake
    fake.stop()


def sagemaker_queue(store, aws, name="sm", resource_args=None, **extra):
    config = {
        "resource_args": {**TRAINING_ARGS, **(resource_args or {})},
        "target": {
            "region": "us-east-1",
            "endpoint_url": aws.endpoint_url,
            "poll_seconds": 0.2,
            "log_poll_seconds": 0.2,
        },
        **extra,
    }
    return store.queues.create(name, "sagemaker", check_queue_config("sagemaker", config))

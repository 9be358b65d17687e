"""boto3 and botocore, loaded on first use, and the AWS clients of a sagemaker queue's target."""

from runners.protocol import RunnerError
from runners.targets.lazy import LazyModule
from store import Stage

boto3 = LazyModule("boto3")
botocore = LazyModule("botocore")
botocore_config = LazyModule("botocore.config")
botocore_session = LazyModule("botocore.session")
botocore_validate = LazyModule("botocore.validate")
errors = LazyModule("botocore.exceptions")  # ClientError, BotoCoreError

SERVICES = ("sagemaker", "s3", "logs", "sts")


def connect(target: dict, stage: Stage) -> tuple:
    """(sagemaker, s3, logs, sts) clients for the target, with botocore's standard retries
    (throttling and transient errors, up to 10 attempts)."""
    retries = botocore_config.Config(retries={"mode": "standard", "max_attempts": 10})
    try:
        session = boto3.Session(
            profile_name=target.get("profile"), region_name=target.get("region")
        )
        endpoint = target.get("endpoint_url")
        return tuple(
            session.client(service, endpoint_url=endpoint, config=retries) for service in SERVICES
        )
    except errors.BotoCoreError as exc:
        raise RunnerError(
            stage,
            f"cannot set up AWS clients ({exc}); set target.region (and target.profile) in the"
            " queue config, or AWS_REGION and the usual credentials",
        ) from None

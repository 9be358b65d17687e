"""The settings of a sagemaker queue: its `target:` block (where AWS is, how often to look)
and the resource_args fields only the queue may set."""

from pydantic import BaseModel, ConfigDict, Field

from runners.launch.validation import check_model
from store import BadInput

# A launch may not change who the job runs as or which network it joins: the queue decides.
QUEUE_ONLY_FIELDS = ("RoleArn", "VpcConfig", "EnableNetworkIsolation", "RemoteDebugConfig")


class SageMakerTarget(BaseModel):
    """`target:` of a sagemaker queue."""

    model_config = ConfigDict(extra="forbid")

    region: str | None = None
    """AWS region (default: the profile's or AWS_REGION)."""
    profile: str | None = None
    """Named profile for credentials (default: the standard chain)."""
    endpoint_url: str | None = None
    """SageMaker, S3, STS and CloudWatch Logs endpoint (a test server, a VPC endpoint)."""
    poll_seconds: float = Field(default=10.0, gt=0, le=600)
    """How often the job is described while it runs."""
    log_poll_seconds: float = Field(default=5.0, gt=0, le=600)
    """How often its CloudWatch streams are read."""


def check_target(target) -> dict | None:
    """The queue's `target:` block, checked; only the fields it sets."""
    if target is None:
        return None
    if not isinstance(target, dict):
        raise BadInput("target", "expected a mapping with region, profile, endpoint_url")
    return check_model(SageMakerTarget, target, "target").model_dump(exclude_defaults=True)


def check_override(queue_args: dict, launch_args: dict) -> None:
    """Refuse a launch's value for a field only the queue may set (both already normalized:
    one spelling of each field)."""
    for name in QUEUE_ONLY_FIELDS:
        if name in launch_args and launch_args[name] != queue_args.get(name):
            raise BadInput(f"resource_args.{name}", "can be set only in the queue's own config")


# The keys a queue config's target: block takes, and their help (read by the CLI and the
# queue editor). Each block names the model that checks it: its fields are the keys and their
# docstrings the help, read from this file's source without importing it
# (runners.registry.declared_keys).
CONFIG_MODELS = {"target": "SageMakerTarget"}

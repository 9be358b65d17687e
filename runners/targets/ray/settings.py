"""The settings of a ray queue: its `target:` block (where the cluster's Jobs API is, how often
to look) and its resource_args (what the job's entry point reserves, its runtime_env), an
allow-list: any other key is refused."""

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, field_validator

from runners.launch.validation import check_model, stringify_env
from store import BadInput

# A launch may not change what the cluster installs or imports for the job: the queue decides.
QUEUE_ONLY_FIELDS = ("pip", "py_modules")
# Ray's own resource names, which entrypoint_resources may not name (Ray refuses them there).
RAY_RESOURCE_FIELDS = {"CPU": "entrypoint_num_cpus", "GPU": "entrypoint_num_gpus"}


def _number(value):
    # YAML's 2 and 0.5 alike; never true/false (ints to Python) or "2"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number, 0 or more")
    return value


Amount = Annotated[float, BeforeValidator(_number), Field(ge=0)]


class RayTarget(BaseModel):
    """`target:` of a ray queue."""

    model_config = ConfigDict(extra="forbid")

    address: str
    """The Ray Jobs API of the cluster: its head's dashboard, http://HEAD:8265 (what
    `ray start --head` prints; RAY_API_SERVER_ADDRESS in Ray's docs)."""
    poll_seconds: float = Field(default=2.0, gt=0, le=600)
    """How often the job's status is read while it runs."""
    request_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """The longest one call to the Jobs API may wait for an answer (Ray's client sets none)."""

    @field_validator("address")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected the Jobs API's URL, http://HEAD:8265")
        return value.rstrip("/")


class RayArgs(BaseModel):
    """resource_args of a ray queue or launch."""

    model_config = ConfigDict(extra="forbid")

    entrypoint_num_cpus: Amount | None = None
    """CPUs reserved for the job's entry point (its driver), apart from its tasks and actors;
    Ray's default is 0."""
    entrypoint_num_gpus: Amount | None = None
    """GPUs reserved for the entry point: it runs on a node that has them, and sees them."""
    entrypoint_memory: StrictInt | None = Field(default=None, ge=0)
    """Memory reserved for the entry point, in bytes."""
    entrypoint_resources: dict[str, Amount] | None = None
    """Custom resources reserved for the entry point ({name: amount}, as the cluster's nodes
    declare them with `ray start --resources`)."""
    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables of the job, its tasks and its actors (runtime_env env_vars; Ray
    expands $NAME and ${NAME} in them on the cluster)."""
    pip: list[str] | None = None
    """Queue only: packages Ray installs for the job (runtime_env pip)."""
    py_modules: list[str] | None = None
    """Queue only: modules Ray ships with the job (runtime_env py_modules: local paths of the
    agent's machine, uploaded, or remote URIs)."""
    stop_grace_seconds: float = Field(default=10.0, ge=0, le=86_400)
    """On cancel, how long Ray waits after SIGTERM before it kills the entry point."""

    @field_validator("env", mode="before")
    @classmethod
    def _stringify_env(cls, value):
        return stringify_env(value)


def check_target(target) -> dict:
    """The queue's `target:` block, checked; a ray queue must say where its cluster is."""
    if target is None:
        raise BadInput(
            "target.address", "missing; expected the cluster's Jobs API, http://HEAD:8265"
        )
    if not isinstance(target, dict):
        raise BadInput("target", "expected a mapping with address, poll_seconds")
    return check_model(RayTarget, target, "target").model_dump(exclude_defaults=True)


def check_args(resource_args: dict) -> RayArgs:
    """resource_args, checked: the allow-listed keys, with the values Ray takes."""
    args = check_model(RayArgs, resource_args or {}, "resource_args")
    for name in args.entrypoint_resources or {}:
        if name in RAY_RESOURCE_FIELDS:
            raise BadInput(
                f"resource_args.entrypoint_resources.{name}",
                f"Ray's own resource; expected it as {RAY_RESOURCE_FIELDS[name]}",
            )
    return args


def check_override(queue_args: dict, launch_args: dict) -> None:
    """Refuse a launch's value for a field only the queue may set."""
    for name in QUEUE_ONLY_FIELDS:
        if name in launch_args and launch_args[name] != queue_args.get(name):
            raise BadInput(f"resource_args.{name}", "can be set only in the queue's own config")


# The keys a queue config's blocks take, and their help (read by the CLI and the queue editor).
# Each block names the model that checks it: its fields are the keys and their docstrings the
# help, read from this file's source without importing it (runners.registry.declared_keys).
CONFIG_MODELS = {"target": "RayTarget", "resource_args": "RayArgs"}

"""What a vertex queue and launch say, checked without importing google-cloud-aiplatform.

resource_args hold `spec` (the CustomJob: worker_pool_specs, staging_bucket, base_output_dir,
labels, scheduling, encryption_spec_key_name) and `run` (what W&B passes to aiplatform's
CustomJob.submit: service_account, network, enable_web_access, timeout,
restart_job_on_worker_restart, tensorboard, experiment, experiment_run, sync), as W&B's Vertex
queues do. The SDK takes seconds to import, so these checks are plain pydantic: a launch and a
dry run answer at once, and the TUI never waits on the SDK.
"""

import os
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from runners.launch.validation import check_model
from runners.targets.vertex import accelerators as vertex_accelerators
from store import BadInput

LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
MAX_TIMEOUT_SECONDS = 28 * 86_400
DURATION = re.compile(r"^\d+(\.\d+)?s$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/.*)?$")  # Cloud Storage's rule
KMS_KEY = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MachineSpec(_Strict):
    machine_type: str
    """e.g. n1-standard-8, a2-highgpu-1g."""
    accelerator_type: str | None = None
    """e.g. NVIDIA_TESLA_T4 (aiplatform's AcceleratorType), or gcloud's nvidia-tesla-t4."""
    accelerator_count: int | None = Field(default=None, ge=0)

    @field_validator("accelerator_type")
    @classmethod
    def _accelerator(cls, value):
        # The API refuses a name its enum lacks: refused here, before anything is queued.
        try:
            return None if value is None else vertex_accelerators.normalize(value)
        except ValueError as exc:  # its own message, without pydantic's "Value error, "
            raise PydanticCustomError("accelerator_type", str(exc)) from None


class ContainerSpec(_Strict):
    image_uri: str | None = None
    """Filled by launchbay with the job's image (or the one built and pushed)."""
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[dict[str, str]] = Field(default_factory=list)


class DiskSpec(_Strict):
    boot_disk_type: str | None = None
    boot_disk_size_gb: int | None = Field(default=None, ge=1)


class WorkerPoolSpec(_Strict):
    machine_spec: MachineSpec
    replica_count: int = Field(ge=1)
    container_spec: ContainerSpec = Field(default_factory=ContainerSpec)
    disk_spec: DiskSpec | None = None


class Scheduling(_Strict):
    timeout: str | int | None = None
    """The longest the job may run: seconds, or a duration such as "86400s"."""
    restart_job_on_worker_restart: bool | None = None
    strategy: Literal["STANDARD", "SPOT", "FLEX_START", "ON_DEMAND", "LOW_COST"] | None = None

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value):
        if isinstance(value, int):
            value = f"{value}s"
        if value is not None and not DURATION.fullmatch(value):
            raise ValueError('expected seconds, such as 3600 or "3600s"')
        if value is not None and float(value[:-1]) > MAX_TIMEOUT_SECONDS:
            raise ValueError(f"expected at most {MAX_TIMEOUT_SECONDS} seconds (28 days)")
        return value


class JobSpec(_Strict):
    worker_pool_specs: list[WorkerPoolSpec] = Field(min_length=1)
    """The pools: the first one's container runs the job's image, entrypoint and args."""
    staging_bucket: str
    """gs://BUCKET[/PREFIX] where the job's output goes unless base_output_dir says."""
    base_output_dir: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    scheduling: Scheduling | None = None
    encryption_spec_key_name: str | None = Field(default=None, pattern=KMS_KEY.pattern)
    """A Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) that encrypts the job's
    resources (customer-managed encryption)."""

    @field_validator("staging_bucket")
    @classmethod
    def _bucket(cls, value):
        # aiplatform takes a bare bucket name as W&B's queues may hold it; the API wants a URI.
        if BUCKET_NAME.match(value):
            return f"gs://{value}"
        if not value.startswith("gs://"):
            raise ValueError("expected gs://BUCKET[/PREFIX] or a bucket name")
        return value

    @field_validator("base_output_dir")
    @classmethod
    def _gcs(cls, value):
        if value is not None and not value.startswith("gs://"):
            raise ValueError("expected gs://BUCKET/PREFIX")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value):
        for key, item in value.items():
            if not LABEL.fullmatch(key) or not LABEL_VALUE.fullmatch(item):
                raise ValueError(
                    f"label {key}={item}: keys and values are lowercase letters, digits, _ and -,"
                    " at most 63 characters, keys starting with a letter"
                )
            if key.startswith("launchbay-"):
                raise ValueError(f"label {key}: launchbay-… labels are set by launchbay")
        return value


class RunSettings(_Strict):
    """What W&B passes to aiplatform's CustomJob.submit, carried into the CustomJob as it does."""

    service_account: str | None = None
    """Queue only: the service account the job runs as."""
    network: str | None = None
    """Queue only: the VPC network the job is peered with."""
    enable_web_access: bool | None = None
    """Queue only: an interactive shell into the job's containers."""
    timeout: str | int | None = None
    """The longest the job may run (seconds or "86400s"): spec.scheduling.timeout."""
    restart_job_on_worker_restart: bool | None = None
    """Restart the whole job when a worker restarts: spec.scheduling's field."""
    tensorboard: str | None = None
    """A Vertex TensorBoard (projects/…/tensorboards/ID) the job's logs are uploaded to."""
    experiment: str | None = None
    """Accepted, not used: aiplatform links the job to a Vertex Experiment after it starts,
    a client-side step that launchbay does not take (the job itself is the same)."""
    experiment_run: str | None = None
    """Accepted, not used (see experiment)."""
    sync: bool | None = None
    """Accepted, not used: whether W&B's agent blocks on the job; launchbay's agent follows
    every job without blocking."""

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value):
        return Scheduling._duration(value)


class VertexArgs(_Strict):
    """resource_args of a vertex queue or launch."""

    spec: JobSpec
    """The CustomJob: worker_pool_specs, staging_bucket, base_output_dir, labels, scheduling."""
    run: RunSettings = Field(default_factory=RunSettings)
    """How it runs: service_account, network, enable_web_access, timeout,
    restart_job_on_worker_restart, tensorboard (experiment, experiment_run and sync: taken,
    not used)."""


class VertexTarget(_Strict):
    """`target:` of a vertex queue."""

    project: str | None = None
    """GCP project (default: $GOOGLE_CLOUD_PROJECT)."""
    location: str | None = None
    """Region, e.g. us-central1 (default: $GOOGLE_CLOUD_REGION)."""
    api_endpoint: str | None = None
    """Default LOCATION-aiplatform.googleapis.com; a private endpoint or a test server."""
    logging_endpoint: str | None = None
    """Cloud Logging's endpoint, from which the job's logs are followed (default: the
    client's own, logging.googleapis.com); a private endpoint or a test server."""
    storage_endpoint: str | None = None
    """Cloud Storage's endpoint, from which a run's output is listed and copied (default: the
    client's own, storage.googleapis.com); a private endpoint or a test server."""
    credentials: Literal["default", "anonymous"] = "default"
    """`default`: Application Default Credentials; `anonymous`: none (test servers only)."""
    poll_seconds: float = Field(default=15.0, gt=0, le=600)
    """How often the job is read while it runs."""


def check_vertex_args(resource_args: dict) -> VertexArgs:
    args = check_model(VertexArgs, resource_args, "resource_args")
    scheduling = args.spec.scheduling or Scheduling()
    for key in ("timeout", "restart_job_on_worker_restart"):
        ours, theirs = getattr(args.run, key), getattr(scheduling, key)
        if ours is not None and theirs is not None and ours != theirs:
            raise BadInput(
                f"resource_args.run.{key}",
                f"{ours!r} differs from spec.scheduling.{key} {theirs!r}; expected one of them",
            )
    return args


def check_target(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadInput("target", "expected a mapping with project, location, api_endpoint")
    return check_model(VertexTarget, value, "target").model_dump(exclude_defaults=True)


def project_and_location(target: dict, environ=os.environ) -> tuple[str, str]:
    """The queue's, else the environment's; a missing one is named."""
    project = target.get("project") or environ.get("GOOGLE_CLOUD_PROJECT")
    location = target.get("location") or environ.get("GOOGLE_CLOUD_REGION")
    if not project:
        raise BadInput(
            "target.project", "missing; set it in the queue config or GOOGLE_CLOUD_PROJECT"
        )
    if not location:
        raise BadInput(
            "target.location", "missing; set it in the queue config or GOOGLE_CLOUD_REGION"
        )
    return project, location


# The keys a queue config's target: block takes, and their help (read by the CLI and the
# queue editor).
# Each block names the model that checks it: its fields are the keys and their docstrings the
# help, read from this file's source without importing it (runners.registry.declared_keys).
CONFIG_MODELS = {"target": "VertexTarget", "resource_args": "VertexArgs"}

"""Resource types, found without importing them: a runner's module (and SDK) loads on first use."""

import importlib
import importlib.util
import threading
from dataclasses import dataclass

from runners.protocol import Runner
from store import BadInput


@dataclass(frozen=True)
class ResourceType:
    name: str
    module: str
    class_name: str
    description: str
    extra: str | None = None  # the pip extra that brings its SDK
    requires: tuple[str, ...] = ()  # top-level modules that extra provides
    aliases: tuple[str, ...] = ()

    def missing_modules(self) -> list[str]:
        return [m for m in self.requires if not _installed(m)]

    @property
    def install_hint(self) -> str:
        return f"pip install 'launchbay[{self.extra}]'" if self.extra else "(built in)"


RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        name="local-process",
        module="runners.targets.local_process.runner",
        class_name="LocalProcessRunner",
        description="runs the job as a process on this machine, in its own working directory",
    ),
    ResourceType(
        name="docker",
        module="runners.targets.docker.runner",
        class_name="DockerRunner",
        description="runs the job in a container on the Docker engine (DOCKER_HOST or the"
        " default socket); code and git jobs are built into an image first",
        extra="docker",
        requires=("docker",),
        aliases=("local-container",),
    ),
    ResourceType(
        name="kubernetes",
        module="runners.targets.kubernetes.runner",
        class_name="KubernetesRunner",
        description="runs the job as a Kubernetes Job (or Volcano, JobSet, Kubeflow object) on"
        " the cluster of the queue's kubeconfig; code and git jobs are built and pushed first",
        extra="kubernetes",
        requires=("kubernetes", "kubernetes_validate"),
        aliases=("k8s",),
    ),
    ResourceType(
        name="sagemaker",
        module="runners.targets.sagemaker.runner",
        class_name="SageMakerRunner",
        description="runs the job as an AWS SageMaker training job (boto3); code and git jobs"
        " are built and pushed first",
        extra="sagemaker",
        requires=("boto3",),
    ),
    ResourceType(
        name="vertex",
        module="runners.targets.vertex.runner",
        class_name="VertexRunner",
        description="runs the job as a GCP Vertex AI CustomJob (google-cloud-aiplatform); code"
        " and git jobs are built and pushed first",
        extra="vertex",
        requires=("google.cloud.aiplatform_v1",),
        aliases=("gcp-vertex",),
    ),
)


def _installed(module: str) -> bool:
    """Whether `module` can be imported, found without importing anything: find_spec on a
    dotted name would import its parents (google.cloud for google.cloud.aiplatform_v1)."""
    from importlib.machinery import PathFinder

    first, *rest = module.split(".")
    spec = importlib.util.find_spec(first)
    prefix = first
    for part in rest:
        if spec is None or not spec.submodule_search_locations:
            return False
        prefix = f"{prefix}.{part}"
        spec = PathFinder.find_spec(prefix, list(spec.submodule_search_locations))
    return spec is not None


class MissingExtra(BadInput):
    """A resource type whose SDK is not installed."""


_runners: dict[str, Runner] = {}
_lock = threading.Lock()


def resource_type(name: str) -> ResourceType:
    """The resource type called `name` (or one of its aliases)."""
    for entry in RESOURCE_TYPES:
        if name == entry.name or name in entry.aliases:
            return entry
    known = ", ".join(entry.name for entry in RESOURCE_TYPES)
    raise BadInput("resource", f"unknown resource type {name!r}; expected one of {known}")


def get_runner(name: str) -> Runner:
    """The runner for a resource type, importing its module (and SDK) the first time."""
    entry = resource_type(name)
    with _lock:
        runner = _runners.get(entry.name)
        if runner is None:
            _require_installed(entry)
            module = importlib.import_module(entry.module)
            runner = getattr(module, entry.class_name)()
            _runners[entry.name] = runner
    return runner


def require_sdk(name: str) -> None:
    """Raise MissingExtra, naming the extra to install, unless the SDK of resource type `name`
    is installed (for code that talks to a target's backend without its runner)."""
    _require_installed(resource_type(name))


def _require_installed(entry: ResourceType) -> None:
    missing = entry.missing_modules()
    if missing:
        raise MissingExtra(
            "resource", f"{entry.name} needs {', '.join(missing)}: {entry.install_hint}"
        )

"""Resource types, found without importing them: a runner's module (and SDK) loads on first use,
and the config keys a type declares are read from its settings module's source."""

import functools
import importlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

from runners.protocol import ConfigKey, Runner
from store import BadInput

#: the name, in a target's settings module, of its declaration: {block: the model checking it}
DECLARATIONS = "CONFIG_MODELS"
#: the blocks of a queue config whose keys a target declares
CONFIG_BLOCKS = ("target", "resource_args")


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

    @property
    def package(self) -> str:
        """The target's own package (runners.targets.<name>), where its settings module is."""
        return self.module.rpartition(".")[0]

    def config_keys(self, block: str) -> tuple[ConfigKey, ...]:
        """The keys this type's queue config takes under `block` (`target`, `resource_args`),
        with their help, as its settings module declares them; () where it declares none.
        Nothing is imported: neither the SDK nor pydantic (see declared_keys)."""
        return declared_keys(self.package).get(block, ())


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
    ResourceType(
        name="ray",
        module="runners.targets.ray.runner",
        class_name="RayRunner",
        description="runs the job as a Ray job (Ray Jobs API) on the cluster at the queue's"
        " target.address; the job's code is uploaded as its working_dir",
        extra="ray",
        requires=("ray",),
    ),
    ResourceType(
        name="slurm",
        module="runners.targets.slurm.runner",
        class_name="SlurmRunner",
        description="runs the job as a batch job (sbatch) on a Slurm cluster, from this login"
        " node or one over SSH; code and git jobs are copied to the cluster's shared filesystem",
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


@functools.cache
def declared_keys(package: str) -> dict[str, tuple[ConfigKey, ...]]:
    """{block: keys} as a target package's settings module declares them: its `CONFIG_MODELS`
    names the pydantic model checking each block (`Model`, or `module.Model` in another module
    of the package); the model's fields are the keys and their docstrings the help.

    Read from the source, not imported: pydantic's import alone doubles the start of
    `launchbay queue create --help`, which lists these keys (pydantic reads field docstrings from
    the source the same way). tests/test_config_keys.py proves they are the model's fields."""
    import ast

    settings = _module_source(f"{package}.settings")
    if settings is None:
        return {}
    models: dict[str, str] = {}
    for node in settings.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(name, ast.Name) and name.id == DECLARATIONS for name in node.targets
        ):
            models = ast.literal_eval(node.value)
    return {block: _model_keys(package, settings, ref) for block, ref in models.items()}


def _module_source(module: str):
    """The parsed source of `module`, found without importing it (only its parent package's
    __init__, which a target keeps to a docstring); None if there is no such module."""
    import ast

    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return None
    if spec is None or spec.origin is None:
        return None
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8"), spec.origin)


def _model_keys(package: str, settings, ref: str) -> tuple[ConfigKey, ...]:
    module, _, name = ref.rpartition(".")
    tree = _module_source(f"{package}.{module}") if module else settings
    scope = _Scope(tree)
    if name not in scope.classes:  # a target's own bug: its declaration test fails on it
        raise LookupError(f"{package}.settings: {DECLARATIONS} names {ref}, no class there")
    return tuple(_fields(scope, scope.classes[name]).values())


class _Scope:
    """A module's classes, and where the names it imports come from."""

    def __init__(self, tree):
        import ast

        body = tree.body if tree is not None else []
        self.classes = {node.name: node for node in body if isinstance(node, ast.ClassDef)}
        self.imported = {
            alias.asname or alias.name: node.module
            for node in body
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
            for alias in node.names
        }

    def base(self, name: str):
        """The scope and class of base class `name`: this module's, or one it imports (a
        mixin such as runners.gpus.request.GpuArgs); None for pydantic's own."""
        if name in self.classes:
            return self, self.classes[name]
        module = self.imported.get(name)
        if module is None or not module.startswith("runners."):
            return None
        other = _Scope(_module_source(module))
        return (other, other.classes[name]) if name in other.classes else None


def _fields(scope: _Scope, node) -> dict[str, ConfigKey]:
    """A model class's fields (its bases' first, as pydantic orders them) with their
    docstrings."""
    import ast

    fields: dict[str, ConfigKey] = {}
    for base in node.bases:
        found = scope.base(base.id) if isinstance(base, ast.Name) else None
        if found is not None:
            fields.update(_fields(*found))
    body = node.body
    for statement, after in zip(body, [*body[1:], None], strict=True):
        if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
            continue
        name = statement.target.id
        # pydantic's rules: _private attributes and ClassVars are no fields
        if name.startswith("_") or "ClassVar" in ast.unparse(statement.annotation):
            continue
        doc = ""
        if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            doc = " ".join(str(after.value.value).split())
        fields[name] = ConfigKey(name, doc)
    return fields


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

"""What a docker queue and a docker launch may ask for: an allow-list, checked without the SDK.

`resource_args.docker` holds only the keys below; anything else is refused at launch with the
allowed list. Settings that reach out of the sandbox (a host network, a host mount) are the
queue's to grant: a launch override may choose among what the queue's own config lists, never
add to it.
"""

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runners.gpus.request import GpuArgs
from runners.launch.validation import check_model, stringify_env
from runners.targets.docker.aliases import canonical
from runners.targets.docker.limits import LIMIT_KEYS, check_docker_ceilings
from store import BadInput

_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_ULIMIT_NAMES = frozenset(
    [
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ]
)
# Networks a container may use without the queue granting anything: none at all.
SANDBOX_NETWORK = "none"
# Keys only a queue's own config may set; a launch may repeat the queue's value, not change it.
QUEUE_ONLY_KEYS = (
    "allowed_networks",
    "keep_failed_containers",
    "user",
    "raisable_limits",
    "privileged",
    "ipc",
    "pid",
    "runtime",
)
# Lists of grants a launch may choose among (a subset of the queue's), never add to.
CHOSEN_AMONG_KEYS = {"volumes": "mounts", "cap_add": "capabilities", "devices": "devices"}
# Keys whose value decides what the container reaches outside itself.
SANDBOX_KEYS = (
    "network",
    "allowed_networks",
    "volumes",
    "user",
    "privileged",
    "ipc",
    "pid",
    "runtime",
    "cap_add",
    "devices",
)
_NAMESPACE_MODES = re.compile(r"^(host|private|shareable|none|container:[\w.-]+)$")


def parse_bytes(value: int | str) -> int:
    """`512m`, `2g`, `1.5GB` or a number of bytes, as bytes (docker's units: powers of 1024)."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 512m or 2g")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("expected a size of 0 or more")
        return value
    match = _BYTES.match(str(value))
    if not match:
        raise ValueError("expected a size such as 512m or 2g")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


class Ulimit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    soft: int = Field(ge=-1)
    hard: int = Field(ge=-1)


class DockerArgs(GpuArgs):
    """resource_args of a docker queue or launch."""

    model_config = ConfigDict(extra="forbid")

    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables for the container (launchbay's own LAUNCHBAY_* win)."""
    cpus: float | None = Field(default=None, gt=0, le=1024)
    """CPU limit in cores, e.g. 1.5."""
    memory: int | str | None = None
    """Memory limit: 512m, 2g or bytes. Exceeding it kills the run (out of memory)."""
    memory_swap: int | str | None = None
    """Memory plus swap limit; -1 for unlimited swap."""
    shm_size: int | str | None = None
    """Size of /dev/shm (PyTorch data loaders want more than the default 64m)."""
    gpus: Literal["all"] | int | list[str] | None = None
    """GPUs: a count the agent hands this container alone (free devices it picks, passed as a
    device request for exactly those ids), `all`, or a list of device ids ("0", "GPU-…")
    passed as they are."""
    ulimits: dict[str, int | Ulimit] = Field(default_factory=dict)
    """Resource limits by name: `nofile: 65536` or `nofile: {soft: 1024, hard: 65536}`."""
    pids_limit: int | None = Field(default=None, ge=-1)
    """Most processes the container may have (-1: unlimited)."""
    workdir: str | None = None
    """Working directory inside the container (absolute)."""
    user: str | None = None
    """User (name, uid or uid:gid) the job runs as."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra container labels (launchbay.* are launchbay's own)."""
    platform: str | None = None
    """Image platform, e.g. linux/amd64."""
    network: str = SANDBOX_NETWORK
    """`none` (the default), or `host` or a named network that the queue config grants."""
    volumes: list[str] = Field(default_factory=list)
    """Mounts, `SOURCE:TARGET[:ro|rw]`; a launch may only pick among the queue's."""
    privileged: bool = False
    """Queue only: run the container privileged (every device, every capability)."""
    cap_add: list[str] = Field(default_factory=list)
    """Linux capabilities to add (`SYS_PTRACE`); a launch may only pick among the queue's."""
    devices: list[str] = Field(default_factory=list)
    """Host devices, `/dev/HOST[:/dev/CONTAINER[:rwm]]`; a launch may only pick among the
    queue's."""
    ipc: str | None = None
    """Queue only: IPC namespace (`host`, `private`, `shareable`, `container:NAME`)."""
    pid: str | None = None
    """Queue only: PID namespace (`host` or `container:NAME`)."""
    runtime: str | None = None
    """Queue only: the engine's container runtime (`nvidia`, `runsc`); its default if unset."""
    init: bool = True
    """Run an init as PID 1, so a stop reaches the job at once instead of after the grace."""
    stop_grace_seconds: float = Field(default=10.0, ge=0, le=86_400)
    """After SIGTERM on cancel, how long to wait before SIGKILL."""
    allowed_networks: list[str] = Field(default_factory=list)
    """Queue only: networks a launch may choose besides the queue's own and `none`."""
    keep_failed_containers: bool = False
    """Queue only: keep the container of a failed run for inspection (else removed)."""
    raisable_limits: list[Literal[LIMIT_KEYS]] = Field(default_factory=list)  # type: ignore[valid-type]
    """Queue only: limits a launch may raise or remove; any other is a ceiling it may lower."""

    @field_validator("env", "labels", mode="before")
    @classmethod
    def _stringify(cls, value):
        return stringify_env(value)

    @field_validator("memory", "shm_size")
    @classmethod
    def _size(cls, value):
        return None if value is None else parse_bytes(value)

    @field_validator("memory_swap")
    @classmethod
    def _swap(cls, value):
        if value is None or value == -1:
            return value
        return parse_bytes(value)

    @field_validator("ulimits")
    @classmethod
    def _ulimit_names(cls, value):
        unknown = sorted(set(value) - _ULIMIT_NAMES)
        if unknown:
            names = ", ".join(sorted(_ULIMIT_NAMES))
            raise ValueError(f"unknown ulimit {unknown[0]!r}; expected one of {names}")
        return value

    @field_validator("workdir")
    @classmethod
    def _absolute(cls, value):
        if value is not None and not value.startswith("/"):
            raise ValueError("expected an absolute path inside the container")
        return value

    @field_validator("labels")
    @classmethod
    def _own_labels(cls, value):
        for key in value:
            if key.startswith("launchbay."):
                raise ValueError(f"{key}: labels under launchbay. are set by launchbay")
        return value

    @field_validator("ipc", "pid")
    @classmethod
    def _namespace_mode(cls, value):
        if value is not None and not _NAMESPACE_MODES.match(value):
            raise ValueError("expected host, private, shareable, none or container:NAME")
        return value

    @field_validator("devices")
    @classmethod
    def _device_syntax(cls, value):
        for device in value:
            parts = device.split(":")
            if len(parts) > 3 or not all(part.startswith("/") for part in parts[:2]):
                raise ValueError(f"{device!r}: expected /dev/HOST[:/dev/CONTAINER[:rwm]]")
        return value

    @field_validator("volumes")
    @classmethod
    def _volume_syntax(cls, value):
        for volume in value:
            parse_volume(volume)
        return value


def parse_volume(text: str) -> tuple[str, str, str]:
    """`SOURCE:TARGET[:ro|rw]` as (source, target, mode); SOURCE is a host path or a volume."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise ValueError(f"{text!r}: expected SOURCE:TARGET or SOURCE:TARGET:ro")
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else "rw"
    if mode not in ("ro", "rw"):
        raise ValueError(f"{text!r}: the mode must be ro or rw")
    if not target.startswith("/"):
        raise ValueError(f"{text!r}: the target must be an absolute path in the container")
    return source, target, mode


def check_docker_args(resource_args: dict) -> DockerArgs:
    """resource_args in any spelling W&B takes (runners.targets.docker.aliases), checked."""
    return check_model(DockerArgs, canonical(resource_args), "resource_args")


def check_docker_override(queue_args: dict, launch_args: dict) -> None:
    """Refuse a launch override that reaches further out of the sandbox than its queue allows,
    or past one of its limits. Both in any spelling: compared as launchbay's keys."""
    queue_args, launch_args = canonical(queue_args), canonical(launch_args)
    queue = check_docker_args(queue_args)
    launch = check_docker_args(launch_args)
    for key in QUEUE_ONLY_KEYS:
        if key in launch_args and getattr(launch, key) != getattr(queue, key):
            raise BadInput(f"resource_args.{key}", "can be set only in the queue's own config")
    check_docker_ceilings(queue, launch, launch_args)
    if "network" in launch_args:
        allowed = {SANDBOX_NETWORK, queue.network, *queue.allowed_networks}
        if launch.network not in allowed:
            raise BadInput(
                "resource_args.network",
                f"{launch.network!r} is not granted by queue config; expected one of"
                f" {', '.join(sorted(allowed))}",
            )
    for key, what in CHOSEN_AMONG_KEYS.items():
        granted = getattr(queue, key)
        for entry in getattr(launch, key):
            if entry not in granted:
                listed = ", ".join(granted) or "none"
                raise BadInput(
                    f"resource_args.{key}",
                    f"{entry!r} is not one of the queue's {key} ({listed}); a launch can only"
                    f" choose among the {what} its queue lists",
                )


# The keys a queue config's target: block takes, and their help (read by the CLI and the
# queue editor).
# Each block names the model that checks it: its fields are the keys and their docstrings the
# help, read from this file's source without importing it (runners.registry.declared_keys).
CONFIG_MODELS = {"resource_args": "DockerArgs"}

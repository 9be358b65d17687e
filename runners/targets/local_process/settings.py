"""The settings of a local-process queue or launch (its resource_args), and the environment
they give a job: which of the agent's variables it inherits, and what it adds."""

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, StrictBool, field_validator

from runners.gpus.request import GpuArgs, check_gpu_ceiling
from runners.launch.validation import stringify_env
from store import BadInput

# The agent's own store, config folder and fault drills are not the job's business.
_NOT_INHERITED = frozenset({"LAUNCHBAY_DB", "LAUNCHBAY_CONFIG_DIR", "LAUNCHBAY_CRASH_AT"})
# What a job gets from the agent even with `inherit_env: false`: no secrets, and without them
# programs are not found (PATH) or have nowhere to keep their caches (HOME, TMPDIR).
BASE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR")


class LocalProcessConfig(GpuArgs):
    """resource_args of a local-process queue or launch (GPU keys: runners/gpus/request.py)."""

    model_config = ConfigDict(extra="forbid")

    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables added to the agent's environment for the job."""
    inherit_env: StrictBool | list[str] = True
    """Which of the agent's environment variables the job gets: all of them (true, the
    default), none (false) or only those named; PATH, HOME, USER, LOGNAME, LANG, LC_ALL, TZ and
    TMPDIR are always passed (see BASE_ENV), and `env` adds to them."""
    cwd: str | None = None
    """Working directory, relative to the job's code directory (default: that directory)."""
    stop_grace_seconds: float = Field(default=10.0, ge=0, le=86_400)
    """After SIGTERM on cancel, how long to wait before SIGKILL."""
    gpus: Literal["all"] | int | None = None
    """GPUs this run gets alone (a count; the agent picks free devices and sets
    CUDA_VISIBLE_DEVICES), or `all`: every GPU, shared, unmanaged. Without it, none."""

    @field_validator("env", mode="before")
    @classmethod
    def _stringify_env(cls, value):
        return stringify_env(value)

    @field_validator("inherit_env", mode="before")
    @classmethod
    def _flag_or_names(cls, value):
        if isinstance(value, bool):
            return value
        expected = "expected true, false or a list of environment variable names"
        if not isinstance(value, list):
            raise ValueError(expected)
        for name in value:
            if not isinstance(name, str) or not name or "=" in name or "\0" in name:
                raise ValueError(f"{name!r} is not an environment variable name; {expected}")
        return value

    @field_validator("cwd")
    @classmethod
    def _stay_inside(cls, value):
        if value is not None and (Path(value).is_absolute() or ".." in Path(value).parts):
            raise ValueError("must be a relative path inside the job's directory")
        return value


def check_override(queue_args: dict, launch_args: dict) -> None:
    """Refuse a launch that passes the job more of the agent's variables than its queue, or
    asks for more of its GPUs."""
    if "gpus" in launch_args:
        check_gpu_ceiling(queue_args.get("gpus"), launch_args["gpus"])
    if "inherit_env" not in launch_args:
        return
    queue_passes = inherited_names(queue_args.get("inherit_env", True))
    launch_passes = inherited_names(launch_args["inherit_env"])
    if queue_passes is None or (launch_passes is not None and launch_passes <= queue_passes):
        return
    extra = "all of them" if launch_passes is None else sorted(launch_passes - queue_passes)
    raise BadInput(
        "resource_args.inherit_env",
        f"the queue passes only {sorted(queue_passes)} of the agent's environment; a launch"
        f" may not ask for more ({extra})",
    )


def inherited_names(inherit_env: bool | list[str]) -> frozenset[str] | None:
    """The agent's variables a job gets, None meaning all of them."""
    if inherit_env is True:
        return None
    return frozenset(BASE_ENV) | frozenset(inherit_env or [])


def inherited_env(agent_env: Mapping[str, str], inherit_env: bool | list[str]) -> dict[str, str]:
    """The agent's variables the job inherits (never the agent's own store and drills)."""
    names = inherited_names(inherit_env)
    return {
        k: v
        for k, v in agent_env.items()
        if k not in _NOT_INHERITED and (names is None or k in names)
    }


# The keys a queue config's resource_args: block takes, and their help (read by the CLI and the
# queue editor). Each block names the model that checks it: its fields are the keys and their
# docstrings the help, read from this file's source without importing it
# (runners.registry.declared_keys).
CONFIG_MODELS = {"resource_args": "LocalProcessConfig"}

"""The settings of a slurm queue: its `target:` block (where the cluster is, where runs go on
its shared filesystem, how often to look) and its resource_args (the `#SBATCH` options a run
gets, an allow-list, plus the job's environment and the grace of a cancel).

Keys may be spelt as sbatch spells them (`cpus-per-task`) or with underscores
(`cpus_per_task`): `normalize` makes them one spelling before the queue's and a launch's are
merged.
"""

import re

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic_core import PydanticCustomError

from runners.launch.validation import check_model, stringify_env
from store import BadInput


def _refused(message: str) -> PydanticCustomError:
    """A field's refusal, its message as it is (a ValueError's gets "Value error, " before it)."""
    return PydanticCustomError("slurm", message)


ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Slurm's time formats (sbatch --time): minutes, minutes:seconds, hours:minutes:seconds,
# days-hours, days-hours:minutes, days-hours:minutes:seconds; or unlimited/infinite.
TIME = re.compile(
    r"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}"
    r"|unlimited|infinite|UNLIMITED|INFINITE)$"
)
# A memory size as sbatch takes it: a number with an optional K/M/G/T suffix.
MEMORY = re.compile(r"^\d+[KMGTkmgt]?$")
# A word for the options that name things (partition, account, qos, gres, constraint): no
# whitespace or shell-special characters, though everything is quoted anyway.
NAME = re.compile(r"^[A-Za-z0-9_.:,|&*+\-\[\]()!]+$")
# user@host, host, or an ssh config's Host alias; ssh://[user@]host[:port] for a port. Never
# starting with "-": ssh would read it as an option.
SSH_DESTINATION = re.compile(r"^(ssh://)?([A-Za-z0-9._%+-]+@)?[A-Za-z0-9._-]+(:\d{1,5})?$")


class SlurmTarget(BaseModel):
    """`target:` of a slurm queue."""

    model_config = ConfigDict(extra="forbid")

    ssh: str | None = None
    """The cluster's login node over SSH (`user@login.cluster`, a Host of your ssh config, or
    ssh://user@host:port), reached with the system ssh and your own config and agent (BatchMode:
    never a password prompt). Unset: this machine is a login node (sbatch runs here)."""
    ssh_config: str | None = None
    """An ssh config file to use instead of ~/.ssh/config (`ssh -F`)."""
    work_dir: str = "launchbay-runs"
    """Where runs go on the cluster's shared filesystem, one folder per run (its code, config
    file, batch script and output): absolute, or relative to your home directory there."""
    poll_seconds: float = Field(default=2.0, gt=0, le=600)
    """How often the job's state is read (`squeue --json`) while it is queued or runs."""
    log_poll_seconds: float = Field(default=1.0, gt=0, le=600)
    """How often new lines of the job's output file are copied into the run's log."""

    @field_validator("ssh")
    @classmethod
    def _destination(cls, value):
        if value is not None and (value.startswith("-") or not SSH_DESTINATION.fullmatch(value)):
            raise _refused("expected user@host, a Host of your ssh config or ssh://user@host:port")
        return value


class SlurmArgs(BaseModel):
    """resource_args of a slurm queue or launch: each becomes one `#SBATCH --KEY=VALUE` line;
    any other key is refused."""

    model_config = ConfigDict(extra="forbid")

    partition: str | None = None
    """The partition (checked at launch against `sinfo`); default: the cluster's default."""
    nodes: int | str | None = None
    """Nodes (`2`, or a range `2-4`)."""
    ntasks: int | None = Field(default=None, ge=1)
    """Tasks (processes srun starts)."""
    cpus_per_task: int | None = Field(default=None, ge=1)
    """CPUs of each task."""
    gpus: int | str | None = None
    """GPUs of the job (`2`, or `a100:2`)."""
    gres: str | None = None
    """Generic resources (`gpu:a100:2`)."""
    mem: str | int | None = None
    """Memory per node (`16G`, `4000` in MB)."""
    time: str | int | None = None
    """Time limit in Slurm's formats (`90`, `1:30:00`, `2-00:00:00`); Slurm ends the job at it
    (TIMEOUT)."""
    account: str | None = None
    """The account charged."""
    qos: str | None = None
    """The quality of service."""
    constraint: str | None = None
    """Node features required (`a100&ib`)."""
    exclusive: StrictBool | None = None
    """The nodes for this job alone."""
    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables the job gets (exported in the batch script, quoted)."""
    stop_grace_seconds: float = Field(default=10.0, ge=0, le=86_400)
    """On cancel: SIGTERM to the job's processes (`scancel --signal=TERM --full`), then Slurm's
    own kill after this long."""

    @field_validator("partition", "gres", "account", "qos", "constraint")
    @classmethod
    def _word(cls, value):
        if value is not None and not NAME.fullmatch(value):
            raise _refused("expected one word: letters, digits and . _ - : , | & * + [ ] ( ) !")
        return value

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, value):
        if isinstance(value, str) and not re.fullmatch(r"\d+(-\d+)?", value):
            raise _refused("expected a count (2) or a range (2-4)")
        if isinstance(value, int) and value < 1:
            raise _refused("expected at least 1")
        return value

    @field_validator("gpus")
    @classmethod
    def _gpus(cls, value):
        if isinstance(value, str) and not re.fullmatch(r"([A-Za-z0-9_.-]+:)?\d+", value):
            raise _refused("expected a count (2) or type:count (a100:2)")
        if isinstance(value, int) and value < 0:
            raise _refused("expected a count of 0 or more")
        return value

    @field_validator("mem")
    @classmethod
    def _mem(cls, value):
        if value is not None and not MEMORY.fullmatch(str(value)):
            raise _refused("expected a size such as 16G, 512M or 4000 (MB)")
        return value

    @field_validator("time")
    @classmethod
    def _time(cls, value):
        if value is not None and not TIME.fullmatch(str(value)):
            raise _refused(
                "expected a Slurm time: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS"
                " or unlimited"
            )
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value):
        if not isinstance(value, dict):
            return value
        for name in value:
            if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
                raise _refused(f"{name!r} is not an environment variable name")
        return stringify_env(value)


#: resource_args that are no #SBATCH option
NOT_SBATCH = ("env", "stop_grace_seconds")


def normalize(resource_args: dict) -> dict:
    """sbatch's spelling (`cpus-per-task`) as the field's (`cpus_per_task`)."""
    return {
        key.replace("-", "_") if isinstance(key, str) else key: value
        for key, value in resource_args.items()
    }


def check_args(resource_args: dict) -> SlurmArgs:
    return check_model(SlurmArgs, normalize(resource_args), "resource_args")


def check_target(target) -> dict | None:
    """The queue's `target:` block, checked; only the fields it sets."""
    if target is None:
        return None
    if not isinstance(target, dict):
        raise BadInput("target", "expected a mapping with ssh, work_dir, poll_seconds")
    return check_model(SlurmTarget, target, "target").model_dump(exclude_defaults=True)


# The keys a queue config's blocks take, and their help (read by the CLI and the queue
# editor). Each block names the model that checks it: its fields are the keys and their
# docstrings the help, read from this file's source without importing it
# (runners.registry.declared_keys).
CONFIG_MODELS = {"target": "SlurmTarget", "resource_args": "SlurmArgs"}

"""The runner protocol: what every target resource implements, and what it returns.

A runner must implement three methods, abstract on `Runner`: `submit` a rendered spec and get a
handle, `status(handle)`, `cancel(handle, grace)`. It declares what it can do once, as
`capabilities` (a set of `Capability`), which the agent, launch preparation and the CLI read.
The keys its queue config takes are declared in its package's settings module, as `ConfigKey`s
the registry reads (see runners.registry.ResourceType.config_keys).
Everything else has a default a target overrides only when it needs to: the config checks
(`normalize`, `check_target`, `check_resource_args`, `check_template_placement`,
`check_launch_override`, `check_job`, `check_reachable`), `preview_submission`,
`config_file_path`, `wait` (polls `status`), `poll_seconds`, `run_files` (none listed), `find`
(None) and `abandon` (False). A run's output is read from its log file, which the runner writes;
there is no log method. Everything target-specific, its SDK included, stays inside the target's
own package.
"""

import abc
import enum
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from store import BadInput, JobVersion, RunState, Stage

if TYPE_CHECKING:
    from runners.runfiles import RunFiles


class RunnerError(Exception):
    """A failure a user can act on, with the stage it happened at (agent, build or run)."""

    def __init__(self, stage: Stage, message: str):
        super().__init__(message)
        self.stage = Stage(stage)
        self.message = message


@dataclass(frozen=True)
class RunStatus:
    """What a runner sees of a run. `state` is one of the run states; the agent applies it."""

    state: RunState
    message: str | None = None
    exit_code: int | None = None
    error_stage: Stage | None = None
    error_message: str | None = None
    #: when the run really ended (unix time), where the target knows it: a run that ended
    #: while no agent watched keeps that time, not the time it was seen
    ended_at: float | None = None

    @classmethod
    def failed(
        cls,
        stage: Stage,
        message: str,
        exit_code: int | None = None,
        error_message: str | None = None,
    ) -> "RunStatus":
        """A failed run: `message` is what the run shows, and its error too unless
        `error_message` says otherwise."""
        return cls(
            RunState.FAILED,
            message,
            exit_code=exit_code,
            error_stage=Stage(stage),
            error_message=message if error_message is None else error_message,
        )


class Capability(enum.Enum):
    """What a target can do, declared once on its runner as `capabilities`."""

    #: code and git jobs become images before they run (the queue's registry/builder apply)
    BUILDS_IMAGES = "builds_images"
    #: code and git jobs must be pushed to the queue's registry (a remote target pulls them)
    NEEDS_REGISTRY = "needs_registry"
    #: a submitted run runs at once (a local process); without it a run is only `starting`
    #: until the target says it runs
    STARTS_RUNNING = "starts_running"
    #: runs use this machine's GPUs: the agent hands each the devices it asks for
    #: (`gpus: N`), exclusively, and the runner's `give_gpus` shows the run those alone
    SHARES_GPUS = "shares_gpus"


#: the longest a run's end waits for its last log lines, unless a runner sets its own
#: `log_drain_seconds`
LOG_DRAIN_SECONDS = 15.0


@dataclass(frozen=True)
class SubmitContext:
    """Everything a runner needs to start one run."""

    run_id: str
    run_dir: Path  # the run's own folder: log file, config file, working copy
    log_path: Path  # the run's log: the runner's output goes here, line by line
    spec: dict  # the rendered spec, exactly as stored on the run
    job: JobVersion
    artifact_path: Path | None  # the code snapshot, for code jobs
    agent_env: Mapping[str, str]  # the agent's environment, which local jobs inherit


Handle = dict[str, Any]


@dataclass(frozen=True)
class ConfigKey:
    """One key a target's queue config takes in one of its blocks (`target`, `resource_args`),
    with its help: what the CLI's help, `launchbay resources TYPE` and the queue editor show."""

    name: str
    help: str


class Runner(abc.ABC):
    """Base class of runners. Subclasses set `resource_type` and `capabilities` and implement
    `submit`, `status` and `cancel`; the rest has defaults."""

    resource_type: str = ""
    #: what this target can do; the agent, launch preparation and the CLI read only this
    capabilities: frozenset[Capability] = frozenset()
    #: the longest a run's end waits for its last log lines (a target that follows logs)
    log_drain_seconds: float = LOG_DRAIN_SECONDS
    #: seconds between status() calls in the default wait(); runners with a way to block on a
    #: change (a pidfd, a watch stream) override wait() instead.
    poll_interval: float = 2.0

    def normalize(self, resource_args: dict) -> dict:
        """resource_args in one spelling, before the queue's and a launch's are merged (so
        `role_arn` from one and `RoleArn` from the other are the same field)."""
        return resource_args

    def check_resource_args(self, resource_args: dict, target: dict | None = None) -> dict:
        """Validate this resource's config (at queue create, launch and dry-run); normalised.
        `target` is the queue's checked `target:` block (where it is, which API version)."""
        return resource_args

    def check_target(self, target: Any) -> dict | None:
        """Validate the queue config's `target:` block (where the resource is, what it may do);
        only the queue's own config has one, a launch can't override it."""
        if target is not None:
            raise BadInput("target", f"{self.resource_type} queues take no target settings")
        return None

    def check_template_placement(self, resource_args: dict, variables: dict) -> None:
        """Refuse, with BadInput, a template variable placed where a launch could use it to
        escape the sandbox (see templating.check_variables_are_enums)."""
        return None

    def check_launch_override(
        self, queue_args: dict, launch_args: dict, queue_config: dict
    ) -> None:
        """Refuse, with BadInput, a launch's resource_args that reach further out of the
        sandbox than the queue's own config grants (host mounts, host network, …)."""
        return None

    def check_job(self, job: JobVersion) -> None:
        """Refuse, with BadInput, a job this resource can't run."""
        return None

    def check_reachable(self, config: dict) -> None:
        """Refuse, with BadInput, a queue config (checked) whose backend does not answer
        (`queue create --check`); the default asks nothing."""
        return None

    def preview_submission(self, spec: dict) -> dict | None:
        """What a dry run shows besides the spec: what the target itself will receive."""
        return None

    def system_sampler(self, handle: Handle) -> Callable[[], list] | None:
        """What samples the run's CPU and memory (a callable returning runners.metrics Points,
        [] once the run is gone), for its `sys/` metrics; None: the target can't say."""
        return None

    def give_gpus(self, spec: dict, gpus: tuple) -> dict:
        """For a target with SHARES_GPUS: `spec` changed so that the run sees exactly `gpus`
        (runners.gpus.inventory.Gpu; empty when it asked for none). Recorded as the run's spec."""
        return spec

    def config_file_path(self, run_dir: Path) -> str:
        """Where the job will find LAUNCHBAY_CONFIG_FILE, as the job sees the path."""
        return str(run_dir / "config.json")

    def metrics_file_path(self, run_dir: Path) -> str | None:
        """LAUNCHBAY_METRICS_FILE, as the job sees the path, for a target whose runs write
        where the agent reads (runners.metrics.discovery.metrics_file_on_host) while they run;
        None (the default): the job prints the protocol's log lines instead."""
        return None

    @abc.abstractmethod
    def submit(self, ctx: SubmitContext) -> Handle:
        """Start the run; return its handle (recorded by the agent, passed back to the rest)."""

    @abc.abstractmethod
    def status(self, handle: Handle) -> RunStatus:
        """The run's status now."""

    def poll_seconds(self, handle: Handle) -> float:
        """How often the default wait() asks for the status (a queue may say, for remote APIs)."""
        return self.poll_interval

    def wait(self, handle: Handle, timeout: float) -> RunStatus:
        """Block up to `timeout` seconds or until the run's state or message changes; return
        its status. This default polls status(); runners with a way to block on a change (a
        pidfd, a watch stream) override it."""
        import time

        every = self.poll_seconds(handle)
        before = self.status(handle)
        deadline = time.monotonic() + timeout
        while not before.state.is_terminal() and time.monotonic() < deadline:
            time.sleep(min(every, max(0.0, deadline - time.monotonic())))
            now = self.status(handle)
            if (now.state, now.message) != (before.state, before.message):
                return now
        return before

    @abc.abstractmethod
    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        """Stop the run: SIGTERM (or the target's equivalent) now, a kill after the grace."""

    def run_files(self, spec: dict, run_dir: Path) -> "RunFiles":
        """Where a run's files are on this machine (runners.runfiles); the default: nowhere,
        and the note says so."""
        from runners.runfiles import RunFiles

        return RunFiles(None, f"{self.resource_type} runs' files are not listed yet")

    def find(self, run_id: str, run_dir: Path) -> Handle | None:
        """Find a run whose handle was never recorded (the agent died right after submit)."""
        return None

    def abandon(self, run_id: str, run_dir: Path) -> bool:
        """For a run that `find` did not find: make sure it can never start from now on, and
        say so (True); its item may then go back to the queue without running twice. False
        (the default) when the runner can't promise it: the run is then marked crashed."""
        return False


def describe_exit(code: int) -> str:
    """`exited with code 1`, or for a signal death `killed by SIGKILL (exit code 137)`."""
    if code > 128:
        try:
            return f"killed by {signal.Signals(code - 128).name} (exit code {code})"
        except ValueError:
            pass
    return f"exited with code {code}"

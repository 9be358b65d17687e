"""What a target plugs into the contract suite (contract.py): a Backend, and the held job's
pieces the targets share."""

import abc
import json
from dataclasses import dataclass, field

from kit import log_of

QUEUE = "q"
"""The queue every contract test makes, on the backend's target."""


@dataclass
class Seen:
    """What the job was given, as the job saw it."""

    env: dict[str, str] = field(default_factory=dict)
    config: object = None


class Backend(abc.ABC):
    """One target, plugged into the contract."""

    resource: str
    """The queue's resource type."""
    failure_says: str
    """What a failed run's error message says when its held job exits with code 3 (or, for
    a fake, when it is failed)."""
    vanished_says = "deleted outside launchbay"
    """What the error message of a run whose remote object vanished says."""
    escape: tuple[dict, dict, tuple[str, ...]]
    """(queue resource_args, launch resource_args that reach out of the queue's sandbox, what
    the refusal names)."""
    preemptible = False
    """Whether the target preempts runs (spot capacity, evictions) and launchbay requeues them."""
    preemptible_args: dict = {}
    """resource_args that make a run preemptible."""
    has_remote_object = True
    """Whether a run is an object somewhere else that can be deleted behind launchbay's back."""
    vanish_modes: tuple[str, ...] = ("watched",)
    """When the remote object is deleted in the vanishing test: while an agent watches the run
    ("watched"), while no agent runs ("while-no-agent-ran"), or both. One is enough to state the
    outcome; each costs an agent or two, and CI time must not grow."""

    @abc.abstractmethod
    def queue(self, store, resource_args: dict | None = None, **extra) -> None:
        """Create the queue QUEUE of this target, with `resource_args` and config `extra`."""

    @abc.abstractmethod
    def held_job(self, store, name: str, exit_code: int = 0) -> None:
        """Create the held job `name` (see the module's docstring)."""

    def started(self, store, run) -> None:
        """Called once the run is RUNNING: a fake writes the job's first lines here."""
        return None

    def while_no_agent_runs(self, store, run) -> None:
        """Called while no agent runs (the first killed, the next not started): a fake writes a
        log line here, which the next agent must copy once."""
        return None

    @abc.abstractmethod
    def release(self, store, run) -> None:
        """Let the run's held job go on: print `after` and exit with its code."""

    @abc.abstractmethod
    def seen(self, store, run) -> Seen:
        """What the run's job was given."""

    def vanish(self, store, run) -> None:
        """Delete the run's remote object behind launchbay's back."""
        raise NotImplementedError

    def preempt(self, store, run) -> None:
        """Take the run's capacity away (a spot interruption, an eviction)."""
        raise NotImplementedError

    def registry(self) -> dict:
        """Queue config for building code jobs: the builder, and a registry of its own."""
        raise NotImplementedError

    def run_freely(self) -> None:
        """From now on a job ends by itself, unreleased (a fake's jobs; others' code jobs do)."""
        return None

    def check_finished(self, store, run) -> None:
        """The target's side of a finished run (its exit code, its handle)."""
        return None

    def check_failed(self, store, run) -> None:
        """The target's side of a failed run (its exit code, its exact reason)."""
        return None

    def check_vanished(self, store, run) -> None:
        """The target's side of a vanished object (what the run's message says)."""
        return None

    def check_cancelled(self, store, run) -> None:
        """The target's side of a cancel (the object deleted, the stop asked for)."""
        return None

    def check_readopted(self, store, run, output: str) -> None:
        """The target's side of a re-adoption (one object made; the handle found again)."""
        return None

    def check_built(self, store, run, registry: dict | None) -> None:
        """The target's side of a built code job (the image it was given, its command)."""
        return None


class PlayedByAFake(Backend):
    """A target whose jobs run nowhere (a fake service): the fake plays the held job, writing
    its log lines and ending it as the test releases it."""

    def __init__(self):
        self.exit_codes: dict[str, int] = {}

    @abc.abstractmethod
    def create_job(self, store, name: str) -> None:
        """An image job of this target, named `name`."""

    @abc.abstractmethod
    def write_lines(self, run, lines: list[str], at_end: bool = False) -> None:
        """Log lines of the run's job, as its container would write them (`at_end`: stamped
        at the job's end)."""

    @abc.abstractmethod
    def end(self, run, failure: str | None) -> None:
        """End the run's job: succeeded, or failed with `failure`."""

    def held_job(self, store, name, exit_code=0):
        self.create_job(store, name)
        self.exit_codes[name] = exit_code

    def started(self, store, run):
        self.write_lines(run, ["before"])

    def while_no_agent_runs(self, store, run):
        self.write_lines(run, ["written while no agent watched"])

    def release(self, store, run):
        self.write_lines(run, ["after"], at_end=True)
        failed = self.exit_codes[run.spec["job"]["name"]] != 0
        self.end(run, self.failure_says if failed else None)

    def check_failed(self, store, run):
        assert run.error_message == self.failure_says

    def check_readopted(self, store, run, output):
        assert log_of(store, run.id).count("written while no agent watched") == 1


GIVEN_LINES = 5  # what the held job prints first of what it was given (run, resume, wandb, config)


# The held job as Python, up to its wait: it prints what it was given (see seen_in_log), then
# `before`, and names in `go` the file whose creation releases it. Each backend adds its wait.
HELD_PYTHON_START = """
import json, os, sys, time
print("run=" + os.environ["LAUNCHBAY_RUN_ID"], flush=True)
print("resume=" + os.environ.get("LAUNCHBAY_RESUME_COUNT", "0"), flush=True)
print("wandb_run=" + os.environ.get("WANDB_RUN_ID", ""), flush=True)
print("wandb_config=" + os.environ.get("WANDB_CONFIG", ""), flush=True)
config = json.load(open(os.environ["LAUNCHBAY_CONFIG_FILE"]))
print("config=" + json.dumps(config, separators=(",", ":")), flush=True)
print("before", flush=True)
go = os.path.join(os.environ["GO_DIR"], os.environ["LAUNCHBAY_RUN_ID"])
"""


def held_shell_script(exit_code: int = 0) -> str:
    """The held job as a busybox shell script, released by creating /go in its container.
    (`$$` is a literal `$` for launchbay's templating.)"""
    return (
        "echo run=$LAUNCHBAY_RUN_ID; echo resume=$${LAUNCHBAY_RESUME_COUNT:-0};"
        ' echo wandb_run=$WANDB_RUN_ID; echo "wandb_config=$WANDB_CONFIG";'
        " echo config=$(tr -d ' \\n' < $LAUNCHBAY_CONFIG_FILE); echo before;"
        f" while [ ! -e /go ]; do sleep 0.1; done; echo after; exit {exit_code}"
    )


def seen_in_log(store, run) -> Seen:
    """What a held job printed of what it was given (`run=…`, `resume=…`, `config=…`)."""
    printed = dict(
        line.split("=", 1)
        for line in job_lines(log_of(store, run.id))
        if line.split("=")[0] in ("run", "resume", "config", "wandb_run", "wandb_config")
    )
    env = {
        "LAUNCHBAY_RUN_ID": printed["run"],
        "LAUNCHBAY_RESUME_COUNT": printed["resume"],
        "WANDB_RUN_ID": printed["wandb_run"],
        "WANDB_CONFIG": printed["wandb_config"],
    }
    return Seen(env, json.loads(printed["config"]))


def job_lines(log: str) -> list[str]:
    """The job's own lines of a run's log (not launchbay's notes)."""
    return [line for line in log.splitlines() if not line.startswith("[launchbay]")]

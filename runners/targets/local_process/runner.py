"""The `local-process` resource: the job as a process on this machine.

Each run gets its own folder with the job's code, its config file and its log. The process runs
in its own session, so it outlives an agent that crashes, and writes its output straight into
the log file, so nothing is lost while no agent is watching. A tiny `sh` wrapper records the exit
status in a file: a restarted agent is not the process's parent and can't waitpid for it.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, StrictBool, field_validator

from runners.agent.crashpoints import crash_point
from runners.catalog.workspace import materialize
from runners.gpus.request import GpuArgs, check_gpu_ceiling
from runners.launch.validation import check_model
from runners.protocol import (
    Capability,
    Handle,
    Runner,
    RunnerError,
    RunStatus,
    SubmitContext,
    describe_exit,
)
from runners.runlog.logfile import open_append
from runners.system import procinfo
from runners.system.files import write_private
from store import BadInput, JobVersion, RunState, Stage

# A constant script: the job's argv is passed as "$@", never spliced into shell text.
# Before the job starts, the wrapper claims the run's start file with its pid and start time
# (`ln` creates it only if missing: written in full first, then linked in one step). The next
# agent finds the process by it if the agent that started it died before recording its handle;
# or, finding no process, it takes the file first, and a wrapper started that late never runs
# the job (exit 125), so the item can go back to the queue without running twice.
# The trap keeps the wrapper alive through the SIGTERM sent to the whole group on cancel, so the
# status of a job that exits on SIGTERM is still written.
_WRAPPER = (
    'exit_file=$1; start_file=$2; shift 2; started() { echo "$1 ${22}"; }; '
    'read -r stat < /proc/$$/stat; started $stat > "$start_file.$$"; '
    'ln "$start_file.$$" "$start_file" 2>/dev/null || { rm -f "$start_file.$$"; exit 125; }; '
    'rm -f "$start_file.$$"; '
    'trap : TERM INT HUP; "$@"; status=$?; echo "$status" > "$exit_file"; exit "$status"'
)
_ABANDONED = "abandoned"
START_FILE = "started"

# The agent's own store and fault drills are not the job's business.
_NOT_INHERITED = frozenset({"LAUNCHBAY_DB", "LAUNCHBAY_CRASH_AT"})
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
        # YAML gives `OMP_NUM_THREADS: 4` as an int; the environment only holds strings.
        if isinstance(value, dict):
            return {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
        return value

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


class LocalProcessRunner(Runner):
    resource_type = "local-process"
    capabilities = frozenset({Capability.STARTS_RUNNING, Capability.SHARES_GPUS})

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def check_resource_args(self, resource_args: dict, target: dict | None = None) -> dict:
        return check_model(LocalProcessConfig, resource_args, "resource_args").model_dump()

    def give_gpus(self, spec: dict, gpus: tuple) -> dict:
        """The run sees exactly its devices, by UUID (or index in a declared inventory without
        UUIDs), numbered in PCI bus order as NVML numbers them; none when it asked for none,
        unless it asked for `all`."""
        if (spec.get("resource_args") or {}).get("gpus") == "all":
            return spec
        env = {
            **spec["env"],
            "CUDA_VISIBLE_DEVICES": ",".join(gpu.key for gpu in gpus),
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        }
        return {**spec, "env": env}

    def check_launch_override(
        self, queue_args: dict, launch_args: dict, queue_config: dict
    ) -> None:
        """A launch may pass fewer of the agent's variables than its queue, never more, and
        ask for at most the queue's GPUs."""
        if "gpus" in launch_args:
            check_gpu_ceiling(queue_args.get("gpus"), launch_args["gpus"])
        if "inherit_env" not in launch_args:
            return
        queue_passes = _inherited_names(queue_args.get("inherit_env", True))
        launch_passes = _inherited_names(launch_args["inherit_env"])
        if queue_passes is None or (launch_passes is not None and launch_passes <= queue_passes):
            return
        extra = "all of them" if launch_passes is None else sorted(launch_passes - queue_passes)
        raise BadInput(
            "resource_args.inherit_env",
            f"the queue passes only {sorted(queue_passes)} of the agent's environment; a launch"
            f" may not ask for more ({extra})",
        )

    def check_job(self, job: JobVersion) -> None:
        if job.type == "image":
            raise BadInput(
                "job",
                f"{job.ref} is an image job; a local-process queue runs code"
                " and git jobs only (use a docker queue for images)",
            )

    def submit(self, ctx: SubmitContext) -> Handle:
        config = LocalProcessConfig.model_validate(ctx.spec["resource_args"] or {})
        job_dir = materialize(ctx.job, ctx.artifact_path, ctx.run_dir / "work")
        cwd = job_dir / config.cwd if config.cwd else job_dir
        if not cwd.is_dir():
            raise RunnerError(Stage.RUN, f"cwd {config.cwd!r} is not a directory in {ctx.job.ref}")
        config_file = Path(ctx.spec["env"]["LAUNCHBAY_CONFIG_FILE"])
        write_private(config_file, json.dumps(ctx.spec["run_config"], indent=2))
        argv = [*(ctx.spec["entry_point"] or []), *ctx.spec["args"]]
        if not argv:
            raise RunnerError(Stage.RUN, f"{ctx.job.ref} has no entrypoint; give one with -E")
        inherited = _inherited(ctx.agent_env, config.inherit_env)
        env = {**inherited, "PYTHONUNBUFFERED": "1", **config.env, **ctx.spec["env"]}
        _check_executable(argv[0], cwd, env.get("PATH", os.defpath))
        exit_file = ctx.run_dir / "exit_code"
        start_file = ctx.run_dir / START_FILE
        log_fd = open_append(ctx.log_path)
        try:
            process = subprocess.Popen(
                [
                    "/bin/sh",
                    "-c",
                    _WRAPPER,
                    "launchbay-run",
                    str(exit_file),
                    str(start_file),
                    *argv,
                ],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise RunnerError(Stage.RUN, f"could not start {argv[0]}: {exc.strerror}") from None
        finally:
            os.close(log_fd)
        with self._lock:
            self._children[process.pid] = process
        handle = {
            "pid": process.pid,
            "start_time": procinfo.start_time(process.pid),
            "exit_file": str(exit_file),
            "log": str(ctx.log_path),
        }
        crash_point("local-process-started")
        write_private(ctx.run_dir / "handle.json", json.dumps(handle))
        return handle

    def status(self, handle: Handle) -> RunStatus:
        if procinfo.is_alive(handle["pid"], handle.get("start_time")):
            return RunStatus(RunState.RUNNING)
        return self._ended(handle, self._reap(handle["pid"]))

    def wait(self, handle: Handle, timeout: float) -> RunStatus:
        pid = handle["pid"]
        with self._lock:
            child = self._children.get(pid)
        if child is not None:
            # Popen.wait(timeout) sleep-polls; a pidfd wakes us the moment the child exits.
            if not procinfo.wait_for_exit(pid, handle.get("start_time"), timeout):
                return RunStatus(RunState.RUNNING)
            child.wait()
            return self._ended(handle, self._reap(pid))
        if not procinfo.wait_for_exit(pid, handle.get("start_time"), timeout):
            return RunStatus(RunState.RUNNING)
        return self._ended(handle, None)

    def _reap(self, pid: int) -> int | None:
        """The return code of our own child once it has ended (None if not our child)."""
        with self._lock:
            child = self._children.get(pid)
        if child is None or child.poll() is None:
            return None
        with self._lock:
            self._children.pop(pid, None)
        return child.returncode

    def _ended(self, handle: Handle, returncode: int | None) -> RunStatus:
        code = _read_exit_file(Path(handle["exit_file"]))
        if code is None and returncode is not None:
            # The wrapper itself was killed (SIGKILL after the grace): no status file.
            code = 128 - returncode if returncode < 0 else returncode
        if code is None:
            return RunStatus(
                RunState.CRASHED,
                "the process ended without recording an exit"
                " status (killed together with its wrapper)",
                error_stage=Stage.RUN,
                error_message="process vanished without an exit status",
            )
        if code == 0:
            return RunStatus(RunState.FINISHED, "exited with code 0", exit_code=0)
        reason = describe_exit(code)
        return RunStatus.failed(Stage.RUN, reason, exit_code=code)

    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        pid, started = handle["pid"], handle.get("start_time")
        if not procinfo.is_alive(pid, started):
            return
        # The wrapper leads its own session: signalling the group reaches the job and anything
        # it started.
        _signal_group(pid, signal.SIGTERM)
        if grace_seconds <= 0:
            _signal_group(pid, signal.SIGKILL)
            return
        timer = threading.Timer(grace_seconds, self._kill_if_alive, (pid, started))
        timer.daemon = True
        timer.start()

    def _kill_if_alive(self, pid: int, started: int | None) -> None:
        if procinfo.is_alive(pid, started):
            _signal_group(pid, signal.SIGKILL)

    def find(self, run_id: str, run_dir: Path) -> Handle | None:
        try:
            return json.loads((run_dir / "handle.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        # The agent died between starting the wrapper and writing handle.json: the wrapper's
        # own start file names the process.
        try:
            pid, started = (run_dir / START_FILE).read_text().split()
            return {
                "pid": int(pid),
                "start_time": int(started),
                "exit_file": str(run_dir / "exit_code"),
                "log": str(run_dir / "output.log"),
            }
        except (FileNotFoundError, ValueError):
            return None  # none, or abandoned

    def abandon(self, run_id: str, run_dir: Path) -> bool:
        """Take the start file before any late wrapper can: then the job never starts."""
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        claim = run_dir / f"{START_FILE}.agent"
        write_private(claim, _ABANDONED)
        try:
            os.link(claim, run_dir / START_FILE)
        except FileExistsError:
            return (run_dir / START_FILE).read_text().strip() == _ABANDONED
        finally:
            claim.unlink(missing_ok=True)
        return True


def _inherited_names(inherit_env: bool | list[str]) -> frozenset[str] | None:
    """The agent's variables a job gets, None meaning all of them."""
    if inherit_env is True:
        return None
    return frozenset(BASE_ENV) | frozenset(inherit_env or [])


def _inherited(agent_env: Mapping[str, str], inherit_env: bool | list[str]) -> dict[str, str]:
    names = _inherited_names(inherit_env)
    return {
        k: v
        for k, v in agent_env.items()
        if k not in _NOT_INHERITED and (names is None or k in names)
    }


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _check_executable(program: str, cwd: Path, path: str) -> None:
    if "/" in program:
        candidate = cwd / program
        if not candidate.exists():
            raise RunnerError(Stage.RUN, f"entrypoint {program!r} does not exist in {cwd}")
        return
    if shutil.which(program, path=path) is None:
        raise RunnerError(
            Stage.RUN,
            f"entrypoint {program!r} was not found on PATH; install it"
            " or give the full command with -E",
        )


def _read_exit_file(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None

"""The `local-process` resource: the job as a process on this machine.

Each run gets its own folder with the job's code, its config file and its log. The process runs
in its own session, so it outlives an agent that crashes, and writes its output straight into
the log file, so nothing is lost while no agent is watching. A tiny `sh` wrapper records the exit
status in a file: a restarted agent is not the process's parent and can't waitpid for it.
"""

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

from runners.agent.crashpoints import crash_point
from runners.catalog.workspace import materialize
from runners.launch.validation import check_model
from runners.metrics.discovery import metrics_file_on_host
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
from runners.targets.local_process.settings import (
    LocalProcessConfig,
    check_override,
    inherited_env,
)
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


class LocalProcessRunner(Runner):
    resource_type = "local-process"
    capabilities = frozenset({Capability.STARTS_RUNNING, Capability.SHARES_GPUS})

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def check_resource_args(self, resource_args: dict, target: dict | None = None) -> dict:
        return check_model(LocalProcessConfig, resource_args, "resource_args").model_dump()

    def check_launch_override(
        self, queue_args: dict, launch_args: dict, queue_config: dict
    ) -> None:
        """A launch may pass fewer of the agent's variables than its queue, never more, and
        ask for at most the queue's GPUs."""
        check_override(queue_args, launch_args)

    def system_sampler(self, handle: Handle):
        """The run's process and its descendants, through psutil."""
        from runners.metrics.system import ProcessSampler

        return ProcessSampler(handle["pid"], handle.get("start_time")).sample

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

    def metrics_file_path(self, run_dir: Path) -> str | None:
        return str(metrics_file_on_host(run_dir))

    def run_files(self, spec: dict, run_dir: Path):
        """The run's folder: its log, config, metrics and `work/`, where the job ran."""
        from runners.runfiles import RunFiles

        return RunFiles(run_dir)

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
        metrics_file_on_host(ctx.run_dir).parent.mkdir(mode=0o700, exist_ok=True)
        argv = [*(ctx.spec["entry_point"] or []), *ctx.spec["args"]]
        if not argv:
            raise RunnerError(Stage.RUN, f"{ctx.job.ref} has no entrypoint; give one with -E")
        inherited = inherited_env(ctx.agent_env, config.inherit_env)
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
        exit_file = Path(handle["exit_file"])
        code = _read_exit_file(exit_file)
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
        # The wrapper writes the file as the job ends: its time is the run's end, even when
        # the agent that sees it is a later one.
        ended_at = _mtime(exit_file)
        if code == 0:
            return RunStatus(
                RunState.FINISHED, "exited with code 0", exit_code=0, ended_at=ended_at
            )
        failed = RunStatus.failed(Stage.RUN, describe_exit(code), exit_code=code)
        return dataclasses.replace(failed, ended_at=ended_at)

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


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _read_exit_file(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None

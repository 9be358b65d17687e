"""The slurm target's "SDK": Slurm's own commands (sbatch, squeue, scancel, sinfo) and the
system's ssh, so nothing is imported and there is no extra to install; and the connection to
the cluster, `Cluster`.

Where a slurm queue's cluster is: this machine (the agent runs on a login node) or a login
node over SSH. Commands are argv lists: run as they are here, or over the system `ssh` with
each argument quoted for the remote shell (ssh hands the login shell one string), never a
user's string pasted in.

SSH uses the user's own ssh config and agent, in BatchMode (a missing key fails at once instead
of asking for a password), and one shared connection per cluster (ControlMaster): each later
command costs a round trip, not a handshake.
"""

import json
import os
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from runners.protocol import RunnerError
from runners.targets.local_process.settings import BASE_ENV
from store import Stage

COMMAND_TIMEOUT = 60.0
# The agent's variables a local sbatch gets besides BASE_ENV: where the cluster's config is.
SLURM_CLIENT_ENV = ("SLURM_CONF",)


class Cluster:
    """One cluster, as a queue's `target:` names it."""

    def __init__(self, target: Mapping, agent_env: Mapping[str, str] | None = None):
        self.ssh: str | None = target.get("ssh")
        self.ssh_config: str | None = target.get("ssh_config")
        self.work_dir: str = target.get("work_dir", "launchbay-runs")
        environ = os.environ if agent_env is None else agent_env
        # A local sbatch gets no secret of the agent's: only what programs need, and where
        # the cluster's config is (sbatch passes its environment on to the job).
        self._local_env = {
            k: v for k, v in environ.items() if k in BASE_ENV or k in SLURM_CLIENT_ENV
        }
        self._home: str | None = None
        self._lock = threading.RLock()  # home() holds it while its ssh asks for the socket
        self._squeue: tuple[float, dict] | None = None
        self._control: str | None = None

    @property
    def where(self) -> str:
        return f"over ssh to {self.ssh}" if self.ssh else "on this machine"

    def run(
        self,
        argv: Sequence[str],
        *,
        stage: Stage = Stage.RUN,
        input: bytes | None = None,
        timeout: float = COMMAND_TIMEOUT,
        check: bool = True,
    ) -> subprocess.CompletedProcess:
        """Run `argv` on the cluster; a failure to run it at all (no ssh, no sbatch, the login
        node unreachable) is a RunnerError at `stage`, and so is a non-zero exit when
        `check`."""
        return self.run_shell(shlex.join(argv), stage=stage, input=input, timeout=timeout,
                              check=check, local_argv=list(argv))  # fmt: skip

    def run_shell(
        self,
        command: str,
        *,
        stage: Stage = Stage.RUN,
        input: bytes | None = None,
        timeout: float = COMMAND_TIMEOUT,
        check: bool = True,
        local_argv: list[str] | None = None,
    ) -> subprocess.CompletedProcess:
        """Run `command`, a shell command built only from quoted parts (shlex), on the
        cluster."""
        if self.ssh:
            argv = [*self.ssh_argv(), command]
        else:
            argv = local_argv if local_argv is not None else ["/bin/sh", "-c", command]
        try:
            done = subprocess.run(
                argv,
                input=input,
                capture_output=True,
                timeout=timeout,
                env=None if self.ssh else self._local_env,
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise RunnerError(
                stage, f"{argv[0]} is not installed {self.where}; is this a Slurm login node?"
            ) from None
        except subprocess.TimeoutExpired:
            shown = shlex.join(local_argv) if local_argv else command
            raise RunnerError(
                stage, f"`{shown}` did not answer within {timeout:.0f} s {self.where}"
            ) from None
        if self.ssh and done.returncode == 255:
            raise RunnerError(stage, f"cannot reach {self.ssh} over ssh: {_last_line(done)}")
        if check and done.returncode != 0:
            program = local_argv[0] if local_argv else "the submission"
            raise RunnerError(
                stage, f"{program} failed {self.where} (exit {done.returncode}): {_last_line(done)}"
            )
        return done

    def ssh_argv(self) -> list[str]:
        options = [
            "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=15",
            "-o", "ControlMaster=auto",
            "-o", f"ControlPath={self._control_dir()}/%C",
            "-o", "ControlPersist=60",
        ]  # fmt: skip
        if self.ssh_config:
            options = ["-F", os.path.expanduser(self.ssh_config), *options]
        # "--" then the destination: nothing after it is read as an ssh option.
        return ["ssh", *options, "--", self.ssh]

    def _control_dir(self) -> str:
        """A private folder for this cluster's ssh control socket: one per Cluster, so that
        two queues reaching one host with different ssh configs (keys) never share a
        connection. Short: a socket's path is limited to ~100 bytes."""
        with self._lock:
            if self._control is None:
                self._control = tempfile.mkdtemp(prefix="lb-ssh-")
            return self._control

    # -- paths --------------------------------------------------------------------------------

    def run_dir(self, run_id: str) -> str:
        """The run's folder on the cluster (absolute)."""
        # `~/scratch` is the home directory's scratch there as here (no shell expands it).
        base = PurePosixPath(self.work_dir.removeprefix("~/") if self.work_dir != "~" else ".")
        if not base.is_absolute():
            base = PurePosixPath(self.home()) / base
        return str(base / run_id)

    def home(self) -> str:
        """The home directory on the cluster (asked once over ssh)."""
        if not self.ssh:
            return str(Path.home())
        with self._lock:
            if self._home is None:
                self._home = self.run_shell("pwd").stdout.decode().strip()
            return self._home

    # -- reading files and the queue ------------------------------------------------------------

    def read_from(self, path: str, offset: int, most: int) -> bytes:
        """Up to `most` bytes of the file at `path` from `offset`; b"" if it is not there."""
        if not self.ssh:
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    return f.read(most)
            except FileNotFoundError:
                return b""
        command = f"tail -c +{offset + 1} {shlex.quote(path)} 2>/dev/null | head -c {most}; true"
        return self.run_shell(command).stdout

    def squeue(self, fresh_for: float) -> dict:
        """`squeue --json`'s jobs by id, shared by the run threads for `fresh_for` seconds (one
        call answers for every run on the cluster). Slurm 22.05 lists every job its controller
        holds, finished ones too for MinJobAge, and ignores squeue's filters with --json."""
        with self._lock:
            if self._squeue is not None and time.monotonic() - self._squeue[0] < fresh_for:
                return self._squeue[1]
        done = self.run(["squeue", "--json"])
        try:
            jobs = {str(job["job_id"]): job for job in json.loads(done.stdout)["jobs"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise RunnerError(
                Stage.RUN, f"squeue --json answered what is no job list: {exc}"
            ) from None
        with self._lock:
            self._squeue = (time.monotonic(), jobs)
        return jobs

    def forget_squeue(self) -> None:
        with self._lock:
            self._squeue = None


def _last_line(done: subprocess.CompletedProcess) -> str:
    text = (done.stderr or done.stdout or b"").decode("utf-8", "replace").strip()
    return text.splitlines()[-1] if text else "no message"

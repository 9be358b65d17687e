"""The `slurm` resource: each run is a batch job on a Slurm cluster, submitted with `sbatch` on
this machine (a login node) or on a login node over SSH (target.ssh).

A run's folder on the cluster's shared filesystem (target.work_dir/<run id>) gets the job's code,
its config file and the batch script (request.py); over SSH they travel as one tar stream in the
same round trip as the sbatch. The job's name and comment carry the run id, so a restarted agent
finds it. Its state is read from `squeue --json` (status.py; no `sacct`: a test cluster has no
slurmdbd, and the script records its exit status for the time after Slurm forgets the job), its
output file followed into the run's log (logs.py). Cancel is `scancel --signal=TERM --full`, then
`scancel` (Slurm's kill) after the grace.
"""

import contextlib
import io
import json
import shlex
import shutil
import tarfile
import threading
import time
from pathlib import Path

from runners.catalog.workspace import materialize
from runners.launch.templating import check_variables_are_enums
from runners.protocol import Handle, RunnerError, RunStatus, SubmitContext
from runners.system.files import write_private
from runners.targets.remote import RemoteRunner
from runners.targets.slurm import request, settings
from runners.targets.slurm.logs import OutputFollower
from runners.targets.slurm.sdk import Cluster
from runners.targets.slurm.settings import SlurmArgs, SlurmTarget
from runners.targets.slurm.status import WAITING, job_status, recorded_exit, state_of
from store import BadInput, JobVersion, RunState, Stage

# How long the partitions `sinfo` lists are trusted for the launch-time check.
PARTITIONS_FRESH_SECONDS = 60.0


class SlurmRunner(RemoteRunner):
    resource_type = "slurm"
    capabilities = frozenset()  # code and git jobs run from their code: no image is built

    def __init__(self) -> None:
        super().__init__()
        self._partitions: dict[tuple, tuple[float, list[str] | None]] = {}
        self._reported: dict[str, tuple] = {}  # per run: the status wait() last returned

    # -- checks ---------------------------------------------------------------------------------

    def check_target(self, target) -> dict | None:
        return settings.check_target(target)

    def normalize(self, resource_args: dict) -> dict:
        return settings.normalize(resource_args)

    def check_resource_args(self, resource_args: dict, target: dict | None = None) -> dict:
        args = settings.check_args(resource_args)
        if args.partition is not None:
            self._check_partition(args.partition, target or {})
        return args.model_dump(exclude_none=True, exclude_defaults=True)

    def check_template_placement(self, resource_args: dict, variables: dict) -> None:
        # Who is charged, and with what priority, is the queue's to say: a variable there may
        # only pick among the queue's own choices.
        for key in ("account", "qos", "partition"):
            check_variables_are_enums(resource_args.get(key), variables, f"resource_args.{key}")

    def check_launch_override(
        self, queue_args: dict, launch_args: dict, queue_config: dict
    ) -> None:
        """Who is charged and with what priority is the queue's: a launch may not change it."""
        for key in ("account", "qos"):
            if key in launch_args and launch_args[key] != queue_args.get(key):
                raise BadInput(f"resource_args.{key}", "can be set only in the queue's own config")

    def check_job(self, job: JobVersion) -> None:
        if job.type == "image":
            raise BadInput(
                "job",
                f"{job.ref} is an image job; a slurm queue runs code and git jobs"
                " (their code is copied to the cluster)",
            )

    def _check_partition(self, partition: str, target: dict) -> None:
        """A partition the cluster lacks is refused at launch, listing those it has (asked of
        `sinfo`; a cluster that can't be asked now is left to sbatch, at submit)."""
        key = (target.get("ssh"), target.get("ssh_config"))
        known = self._partitions.get(key)
        if known is None or time.monotonic() - known[0] > PARTITIONS_FRESH_SECONDS:
            try:
                done = self._cluster(target).run(["sinfo", "-h", "-o", "%R"], stage=Stage.AGENT)
                names = sorted({line.strip() for line in done.stdout.decode().splitlines()} - {""})
            except RunnerError:
                names = None  # kept too: a launch form's every keystroke must not wait on it
            known = self._partitions[key] = (time.monotonic(), names)
        if known[1] is not None and partition not in known[1]:
            raise BadInput(
                "resource_args.partition",
                f"the cluster has no partition {partition!r}; expected one of"
                f" {', '.join(known[1])}",
            )

    def config_file_path(self, run_dir: Path) -> str:
        # The batch script exports the real path (the run's folder on the cluster), which
        # depends on the queue's target: this is what a dry run's env shows instead.
        return f"<target.work_dir>/{run_dir.name}/{request.CONFIG}"

    def run_files(self, spec: dict, run_dir: Path):
        """On a cluster reached without ssh, the run's folder is on this machine (the shared
        filesystem): its code in work/, where the job ran, its config, batch script and output.
        Over ssh it is on the login node, and not listed yet."""
        from runners.runfiles import RunFiles

        target = SlurmTarget.model_validate(spec.get("target") or {})
        handle = self.recorded_handle(run_dir)
        folder = handle.get("folder") if handle else None
        if target.ssh:
            where = f" in {folder}" if folder else ""
            return RunFiles(
                None,
                f"slurm runs' files are not listed yet over ssh: they are on {target.ssh}{where}"
                " (only the run's log is copied here)",
            )
        if folder is None:
            return RunFiles(None, "the run was not submitted to Slurm: it has no folder yet")
        return RunFiles(Path(folder))

    def preview_submission(self, spec: dict) -> dict:
        target = SlurmTarget.model_validate(spec.get("target") or {})
        args = SlurmArgs.model_validate(spec.get("resource_args") or {})
        if target.ssh and not target.work_dir.startswith("/"):
            # A dry run stays offline: the home directory there is not asked for.
            folder = f"<home on {target.ssh}>/{target.work_dir}/{spec['run_id']}"
        else:
            folder = Cluster(target.model_dump()).run_dir(spec["run_id"])
        return {"batch_script": request.batch_script(spec, args, folder)}

    # -- the cluster ----------------------------------------------------------------------------

    def _cluster(self, target: dict) -> Cluster:
        key = (target.get("ssh"), target.get("ssh_config"), target.get("work_dir"))
        return self.client(key, lambda: Cluster(target))

    # -- submit ---------------------------------------------------------------------------------

    def submit(self, ctx: SubmitContext) -> Handle:
        target = ctx.spec.get("target") or {}
        cluster = self._cluster(target)
        args = SlurmArgs.model_validate(ctx.spec["resource_args"] or {})
        folder = cluster.run_dir(ctx.run_id)
        handle = {
            "job_id": None,
            "run_id": ctx.run_id,
            "target": target,
            "folder": folder,
            "log": str(ctx.log_path),
            "run_dir": str(ctx.run_dir),
        }
        self.record_handle(ctx.run_dir, handle)
        script = request.batch_script(ctx.spec, args, folder)
        script_path = f"{folder}/{request.SCRIPT}"
        if cluster.ssh:
            staging = ctx.run_dir / "stage"
            _lay_out(ctx, staging, script)
            try:
                done = cluster.run_shell(
                    f"mkdir -p {shlex.quote(folder)} && tar -x -f - -C {shlex.quote(folder)}"
                    f" && sbatch --parsable {shlex.quote(script_path)}",
                    input=_tar(staging),
                )
            finally:
                shutil.rmtree(staging, ignore_errors=True)  # the cluster's copy is the run's
        else:
            _lay_out(ctx, Path(folder), script)
            done = cluster.run(["sbatch", "--parsable", script_path])
        job_id = done.stdout.decode().strip().split(";")[0]
        if not job_id.isdigit():
            raise RunnerError(Stage.RUN, f"sbatch answered no job id: {job_id!r}")
        handle["job_id"] = job_id
        self.record_handle(ctx.run_dir, handle)
        self._follow_logs(handle)
        return handle

    # -- following ------------------------------------------------------------------------------

    def poll_seconds(self, handle: Handle) -> float:
        return SlurmTarget.model_validate(handle["target"]).poll_seconds

    def status(self, handle: Handle) -> RunStatus:
        cluster = self._cluster(handle["target"])
        key, job_id = handle["run_id"], handle["job_id"]
        try:
            jobs = cluster.squeue(fresh_for=self.poll_seconds(handle) / 2)
            if job_id not in jobs:  # submitted since that answer, perhaps: ask again
                cluster.forget_squeue()
                jobs = cluster.squeue(fresh_for=0)
            job = jobs.get(job_id)
            status = job_status(job) if job is not None else self._forgotten(cluster, handle)
        except RunnerError as exc:
            return self.unknown_for_now(key, f"cannot read Slurm's queue for now ({exc.message})")
        if status.state is RunState.PREEMPTED and job and state_of(job) != "PREEMPTED":
            # Requeued by Slurm (an administrator, a node failure): launchbay requeues the run
            # itself, within max_resumes, so this copy must not run too.
            cluster.run(["scancel", job_id], check=False)
        self.remember(key, status)
        if status.state.is_terminal():
            self._follow_logs(handle)
            self.drain_logs(key)
        return status

    def _forgotten(self, cluster: Cluster, handle: Handle) -> RunStatus:
        """A job Slurm no longer lists: ended longer ago than MinJobAge, as its script
        recorded, or gone without a trace."""
        recorded = cluster.read_from(f"{handle['folder']}/{request.EXIT_FILE}", 0, 64).strip()
        if recorded.isdigit():
            return recorded_exit(int(recorded), handle["job_id"])
        return RunStatus.failed(
            Stage.RUN,
            f"Slurm job {handle['job_id']} is no longer known to Slurm and recorded no exit"
            " status (deleted outside launchbay, or it ended while no agent watched for longer"
            " than the cluster keeps finished jobs)",
        )

    def wait(self, handle: Handle, timeout: float) -> RunStatus:
        """Polls status() until it says something this run's watcher has not heard yet (the
        first answer included: a pending reason is news at once), or `timeout`."""
        self._follow_logs(handle)  # an adopted run's output too
        key = handle["run_id"]
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(handle)
            said = (status.state, status.message)
            if status.state.is_terminal():
                self._reported.pop(key, None)
                return status
            if said != self._reported.get(key):
                self._reported[key] = said
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                return status
            time.sleep(min(self.poll_seconds(handle), left))

    def _follow_logs(self, handle: Handle) -> None:
        every = SlurmTarget.model_validate(handle["target"]).log_poll_seconds
        cluster = self._cluster(handle["target"])
        self.follow_logs(
            handle["run_id"],
            lambda: OutputFollower(
                cluster,
                f"{handle['folder']}/{request.OUTPUT}",
                Path(handle["log"]),
                Path(handle["run_dir"]) / "output_cursor",
                every,
            ),
        )

    # -- cancel, re-adoption ------------------------------------------------------------------

    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        """SIGTERM to every process of the job now, Slurm's kill (scancel) after the grace. A
        job still pending has nothing to signal: it is cancelled at once."""
        cluster = self._cluster(handle["target"])
        job_id = handle.get("job_id")
        if job_id is None:
            return
        cluster.forget_squeue()
        job = cluster.squeue(fresh_for=0).get(job_id) or {}
        # A pending job has no process to signal (scancel --signal waits on it): cancelled.
        if grace_seconds <= 0 or state_of(job) in WAITING:
            cluster.run(["scancel", job_id], check=False)
            return
        signalled = cluster.run(["scancel", "--signal=TERM", "--full", job_id], check=False)
        if signalled.returncode != 0:
            cluster.run(["scancel", job_id], check=False)
            return

        def kill() -> None:
            # The cluster away: the job ends at its own time limit, or by an administrator.
            with contextlib.suppress(RunnerError):
                cluster.run(["scancel", job_id], check=False)

        timer = threading.Timer(grace_seconds, kill)
        timer.daemon = True
        timer.start()

    def find(self, run_id: str, run_dir: Path) -> Handle | None:
        """The handle recorded before sbatch; its job id, if the agent died before recording
        it, found by the job's name in Slurm's queue."""
        handle = self.recorded_handle(run_dir)
        if handle is None or handle.get("job_id"):
            return handle
        cluster = self._cluster(handle["target"])
        cluster.forget_squeue()
        for job_id, job in cluster.squeue(fresh_for=0).items():
            if job.get("name") == request.job_name(run_id):
                handle["job_id"] = job_id
                self.record_handle(run_dir, handle)
                return handle
        return None

    def abandon(self, run_id: str, run_dir: Path) -> bool:
        """Take the run's start claim before any late copy of its job can (an sbatch still
        in flight when the agent died): that job then exits at once (125), never running."""
        handle = self.recorded_handle(run_dir)
        if handle is None:
            return True  # the handle is recorded before sbatch: nothing was submitted
        cluster = self._cluster(handle["target"])
        started = f"{handle['folder']}/{request.STARTED}"
        claim = (
            f"mkdir -p {shlex.quote(handle['folder'])} && mkdir {shlex.quote(started)}"
            f" && touch {shlex.quote(f'{started}/{request.ABANDONED}')}"
        )
        if cluster.run_shell(claim, stage=Stage.AGENT, check=False).returncode == 0:
            return True
        taken = cluster.run(
            ["test", "-e", f"{started}/{request.ABANDONED}"], stage=Stage.AGENT, check=False
        )
        return taken.returncode == 0


def _lay_out(ctx: SubmitContext, folder: Path, script: str) -> None:
    """The run's folder: the job's code in work/, its config file and the batch script."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    materialize(ctx.job, ctx.artifact_path, folder / request.WORK)
    write_private(folder / request.CONFIG, json.dumps(ctx.spec["run_config"], indent=2))
    write_private(folder / request.SCRIPT, script, mode=0o700)


def _tar(folder: Path) -> bytes:
    """The folder as one tar stream, for `tar -x` on the login node."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for child in sorted(folder.iterdir()):
            archive.add(child, arcname=child.name)
    return buffer.getvalue()

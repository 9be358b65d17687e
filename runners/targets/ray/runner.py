"""The `ray` resource: each run is a Ray job, submitted through the Ray Jobs API
(`ray.job_submission.JobSubmissionClient`) to the cluster at the queue's `target.address`.

The job's code (a code job's snapshot, a git job's commit) is its runtime_env working_dir,
uploaded by the client; the entry point runs on the cluster with Ray's own `sh -c`. The
submission id is `launchbay-<run id>`, so a restarted agent finds the job again. The run follows
the job's status every `poll_seconds` and copies its output with the client's log tail
(runners.targets.ray.logs). Cancel is stop_job: Ray sends SIGTERM, then SIGKILL after the
queue's `stop_grace_seconds`. `ray` is imported by the agent's run threads only.
"""

import time
import urllib.request
from pathlib import Path

from runners.launch.templating import check_variables_are_enums
from runners.protocol import Handle, RunnerError, RunStatus, SubmitContext
from runners.targets.ray import request as ray_request
from runners.targets.ray import sdk
from runners.targets.ray import settings as ray_settings
from runners.targets.ray.logs import RayLogFollower
from runners.targets.ray.settings import QUEUE_ONLY_FIELDS, RayTarget
from runners.targets.ray.status import job_status
from runners.targets.remote import Backoff, RemoteRunner
from store import BadInput, JobVersion, Stage

SUBMIT_RETRY_SECONDS = 5.0  # a head that does not answer at submit is tried this long
CHECK_TIMEOUT_SECONDS = 5.0  # `queue create --check`: the head must answer within this


class RayRunner(RemoteRunner):
    resource_type = "ray"
    capabilities = frozenset()  # the job's code is uploaded as it is: no image is built
    #: a run whose last lines were read is not followed again
    follow_logs_once = True

    # -- checks (no SDK) -----------------------------------------------------------------------

    def check_target(self, target) -> dict:
        return ray_settings.check_target(target)

    def check_resource_args(self, resource_args: dict, target: dict | None = None) -> dict:
        return ray_settings.check_args(resource_args).model_dump(exclude_defaults=True)

    def check_template_placement(self, resource_args: dict, variables: dict) -> None:
        for key in QUEUE_ONLY_FIELDS:
            check_variables_are_enums(resource_args.get(key), variables, f"resource_args.{key}")

    def check_launch_override(self, queue_args: dict, launch_args: dict, queue_config: dict):
        ray_settings.check_override(queue_args, launch_args)

    def check_job(self, job: JobVersion) -> None:
        if job.type == "image":
            raise BadInput(
                "job",
                f"{job.ref} is an image job; a ray queue runs code and git jobs (their code is"
                " the Ray job's working_dir); use a container target for images",
            )

    def check_reachable(self, config: dict) -> None:
        """`queue create --check`: the Jobs API at target.address answers (a plain HTTP GET of
        its version: no SDK needed)."""
        address = (config.get("target") or {})["address"]
        try:
            with urllib.request.urlopen(
                f"{address}/api/version", timeout=CHECK_TIMEOUT_SECONDS
            ) as answer:
                answer.read()
        except OSError as exc:  # URLError and HTTPError are OSErrors
            reason = getattr(exc, "reason", None) or exc
            raise BadInput(
                "target.address",
                f"no Ray Jobs API answers at {address} ({reason}); expected a running head's"
                " dashboard address (http://HEAD:8265, which `ray start --head` prints)",
            ) from None

    def config_file_path(self, run_dir: Path) -> str:
        # Relative to the job's working directory on the cluster; made absolute there, when the
        # job starts (runners.targets.ray.request.env_script).
        return ray_request.CONFIG_FILE

    def preview_submission(self, spec: dict) -> dict:
        try:
            return ray_request.submission(spec, ray_request.WORKING_DIR_PREVIEW)
        except RunnerError as exc:  # no entry point: what the run would fail with, said now
            raise BadInput("entry_point", exc.message) from None

    # -- the Jobs API ----------------------------------------------------------------------------

    def _client(self, target: dict):
        """The client for the queue's address, made (and its connection checked) the first
        time; raises what sdk.unreachable_errors() names when the head does not answer."""
        settings = RayTarget.model_validate(target)
        key = (settings.address, settings.request_timeout_seconds)
        return self.client(key, lambda: sdk.connect(*key))

    def _unreachable(self, target: dict, exc: BaseException) -> str:
        return (
            f"cannot reach the Ray Jobs API at {target['address']} ({sdk.describe(exc)});"
            " is the cluster's head up, and target.address its dashboard address?"
        )

    # -- submit --------------------------------------------------------------------------------

    def submit(self, ctx: SubmitContext) -> Handle:
        target = ctx.spec["target"]
        working_dir = ray_request.working_dir(ctx)
        request = ray_request.submission(ctx.spec, str(working_dir))
        handle = {
            "submission_id": request["submission_id"],
            "run_id": ctx.run_id,
            "target": target,
            "log": str(ctx.log_path),
            "run_dir": str(ctx.run_dir),
        }
        self.record_handle(ctx.run_dir, handle)
        backoff = Backoff(first=0.5, most=4.0)
        deadline = time.monotonic() + SUBMIT_RETRY_SECONDS
        while True:
            try:
                self._client(target).submit_job(**request)
                break
            except sdk.unreachable_errors() as exc:
                if time.monotonic() + backoff.delay > deadline:
                    raise RunnerError(Stage.RUN, self._unreachable(target, exc)) from None
                backoff.sleep()
            except (RuntimeError, ValueError) as exc:
                if "already exists" in str(exc) and self._exists(target, handle):
                    break  # submitted by an earlier try whose answer was lost: the same run
                raise RunnerError(Stage.RUN, f"Ray refused the job: {sdk.describe(exc)}") from None
        self._follow_logs(handle)
        return handle

    # -- following -----------------------------------------------------------------------------

    def status(self, handle: Handle) -> RunStatus:
        target, key = handle["target"], handle["run_id"]
        try:
            info = self._client(target).get_job_info(handle["submission_id"])
        except RuntimeError as exc:
            if sdk.not_found(exc):
                # The documented outcome of a remote object deleted behind launchbay's back.
                return RunStatus.failed(
                    Stage.RUN,
                    f"Ray job {handle['submission_id']} no longer exists at {target['address']}"
                    " (deleted outside launchbay, or the cluster was restarted)",
                )
            return self._unknown_for_now(key, target, exc)
        except sdk.unreachable_errors() as exc:
            return self._unknown_for_now(key, target, exc)
        status = self.remember(
            key,
            job_status(
                _value(info.status),
                info.message,
                _value(info.error_type),
                info.driver_exit_code,
                info.end_time,
            ),
        )
        if status.state.is_terminal():
            self._drain_logs(handle)
        return status

    def _unknown_for_now(self, key: str, target: dict, exc: BaseException) -> RunStatus:
        """The head away (restarting, the network): the job may run on; the run keeps its last
        known state and says why it can't be read."""
        return self.unknown_for_now(
            key,
            f"the Ray Jobs API at {target['address']} cannot be read for now"
            f" ({sdk.describe(exc)}); the run keeps its last known state",
        )

    def poll_seconds(self, handle: Handle) -> float:
        return RayTarget.model_validate(handle["target"]).poll_seconds

    def wait(self, handle: Handle, timeout: float) -> RunStatus:
        self._follow_logs(handle)  # an adopted run's logs too
        return super().wait(handle, timeout)

    def _follow_logs(self, handle: Handle) -> None:
        self.follow_logs(
            handle["run_id"],
            lambda: RayLogFollower(
                lambda: self._client(handle["target"]),
                handle["submission_id"],
                Path(handle["log"]),
                handle["run_dir"],
            ),
            replace_ended=True,
        )

    def _drain_logs(self, handle: Handle) -> None:
        """After the job's end: its last lines, read before the end is reported."""
        self._follow_logs(handle)
        self.drain_logs(handle["run_id"])

    # -- cancel, re-adoption -------------------------------------------------------------------

    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        """stop_job: Ray sends SIGTERM, then SIGKILL after the grace given at submit
        (RAY_JOB_STOP_WAIT_TIME_S); a job that has already ended needs nothing."""
        target = handle["target"]
        try:
            self._client(target).stop_job(handle["submission_id"])
        except sdk.unreachable_errors() as exc:
            raise RunnerError(Stage.RUN, self._unreachable(target, exc)) from None

    def find(self, run_id: str, run_dir: Path) -> Handle | None:
        handle = self.recorded_handle(run_dir)
        if handle is None or not self._exists(handle["target"], handle):
            return None
        return handle

    def _exists(self, target: dict, handle: Handle) -> bool:
        """Whether the run's Ray job exists (other errors raise: no answer is no proof)."""
        try:
            self._client(target).get_job_info(handle["submission_id"])
        except RuntimeError as exc:
            if sdk.not_found(exc):
                return False
            raise
        return True


def _value(field) -> str | None:
    """A JobDetails enum field as its text (JobErrorType's str() is its qualified name)."""
    return getattr(field, "value", field)

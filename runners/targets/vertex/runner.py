"""The `vertex` resource (alias `gcp-vertex`): each run is a Vertex AI CustomJob.

The low-level `aiplatform_v1.JobServiceClient` is used (the high-level `aiplatform` package
takes twice as long to import), loaded on first use by the agent's run threads, never at
launch: the checks and the dry run are plain Python. The job is read every few seconds
(GetCustomJob, retried while UNAVAILABLE); cancel is CancelCustomJob; the CustomJob carries the
label `launchbay-run-id`, by which a restarted agent finds it again. The job's output is
followed from Cloud Logging (runners.targets.vertex.logs) when google-cloud-logging is installed.
"""

import contextlib
import os
import time
from pathlib import Path

from runners.images.builder import image_for_run
from runners.launch.templating import check_variables_are_enums
from runners.protocol import Capability, Handle, RunnerError, RunStatus, SubmitContext
from runners.runlog.logfile import open_append
from runners.targets.remote import Backoff, RemoteRunner
from runners.targets.vertex import sdk
from runners.targets.vertex import settings as vertex_settings
from runners.targets.vertex.logs import CloudLoggingFollower
from runners.targets.vertex.request import LABEL_RUN_ID, custom_job, output_dir, proto_values
from runners.targets.vertex.status import job_status
from store import BadInput, JobVersion, Stage

RETRY_SECONDS = 60.0  # how long UNAVAILABLE is retried before the call gives up
CALL_TIMEOUT_SECONDS = 30.0  # one call: the generated client sets none, a dead link would hang
LOGS_HINT = (
    """[launchbay] this job's logs are in Cloud Logging (resource.type="ml_job","""
    """ resource.labels.job_id="{job_id}"); install google-cloud-logging"""
    """ (pip install 'launchbay[vertex]') for launchbay to follow them here\n"""
)


class VertexRunner(RemoteRunner):
    resource_type = "vertex"
    capabilities = frozenset({Capability.BUILDS_IMAGES, Capability.NEEDS_REGISTRY})
    #: a run whose last lines were read is not followed again (followers, the last status and
    #: the drained runs are by run id: a job's name is unique too, but not across test servers)
    follow_logs_once = True

    # -- checks (no SDK) -----------------------------------------------------------------------

    def check_target(self, target) -> dict | None:
        return vertex_settings.check_target(target)

    def check_resource_args(self, resource_args: dict, target: dict | None = None) -> dict:
        return vertex_settings.check_vertex_args(resource_args).model_dump(exclude_none=True)

    def check_template_placement(self, resource_args: dict, variables: dict) -> None:
        run = resource_args.get("run")
        if not isinstance(run, dict):
            return  # not a mapping: check_resource_args says so
        for key in ("service_account", "network", "enable_web_access"):
            check_variables_are_enums(run.get(key), variables, f"resource_args.run.{key}")

    def check_launch_override(self, queue_args: dict, launch_args: dict, queue_config: dict):
        vertex_settings.project_and_location(queue_config.get("target") or {})
        queue_run, launch_run = queue_args.get("run") or {}, launch_args.get("run") or {}
        for key in ("service_account", "network", "enable_web_access"):
            if key in launch_run and launch_run[key] != queue_run.get(key):
                raise BadInput(
                    f"resource_args.run.{key}", "can be set only in the queue's own config"
                )

    def check_job(self, job: JobVersion) -> None:
        """Image jobs run their image; code and git jobs are built and pushed first."""

    def config_file_path(self, run_dir: Path) -> str:
        return ""  # no file reaches a CustomJob's container: the config is in LAUNCHBAY_CONFIG

    def run_files(self, spec: dict, run_dir: Path):
        """The job's output in Cloud Storage (request.output_dir)."""
        from runners.runfiles import RunFiles
        from runners.targets.vertex.files import GcsFiles

        output = output_dir(spec)
        if not output.startswith("gs://"):
            return RunFiles(None, f"vertex run without a gs:// output ({output!r})")
        target = spec.get("target") or {}
        try:
            project = vertex_settings.project_and_location(target)[0]
        except BadInput as exc:
            return RunFiles(None, f"vertex runs' files are not listed: {exc.message}")
        key = ("storage", target.get("storage_endpoint"), target.get("credentials", "default"))

        def connect():
            return self.client(key, lambda: sdk.storage_client(target, project))

        return RunFiles(None, remote=GcsFiles(output, connect))

    def preview_submission(self, spec: dict) -> dict:
        target = spec.get("target") or {}
        project, location = vertex_settings.project_and_location(target)
        image = spec.get("image") or "<the image built and pushed for the run>"
        return {
            "parent": f"projects/{project}/locations/{location}",
            "custom_job": custom_job(spec, image),
        }

    # -- the API -------------------------------------------------------------------------------

    def _client(self, target: dict, stage: Stage):
        """A JobServiceClient for the target's endpoint (the SDK is imported here, once)."""
        project, location = vertex_settings.project_and_location(target)
        endpoint = target.get("api_endpoint") or f"{location}-aiplatform.googleapis.com"
        key = (endpoint, target.get("credentials", "default"))
        client = self.client(key, lambda: sdk.connect(endpoint, key[1], stage))
        return client, f"projects/{project}/locations/{location}"

    # -- submit --------------------------------------------------------------------------------

    def submit(self, ctx: SubmitContext) -> Handle:
        target = ctx.spec.get("target") or {}
        try:
            client, parent = self._client(target, Stage.RUN)
        except BadInput as exc:
            raise RunnerError(Stage.RUN, str(exc)) from None
        image = image_for_run(ctx)
        handle = {
            "run_id": ctx.run_id,
            "target": target,
            "parent": parent,
            "name": None,
            "log": str(ctx.log_path),
            "run_dir": str(ctx.run_dir),
            "replicas": sum(
                pool.get("replica_count", 1)
                for pool in ctx.spec["resource_args"]["spec"]["worker_pool_specs"]
            ),
        }
        # Before the job exists: an agent that dies in between finds it by its label.
        self.record_handle(ctx.run_dir, handle)
        body = custom_job(ctx.spec, image)
        try:
            created = self._create(client, parent, body, ctx.run_id)
        except sdk.api_exceptions.GoogleAPICallError as exc:
            raise RunnerError(
                Stage.RUN, f"Vertex AI refused CreateCustomJob: {sdk.describe(exc)}"
            ) from None
        handle["name"] = created.name
        if sdk.logging_client_installed():
            self._follow_logs(handle)
        else:
            _note_logs(ctx.log_path, created.name)
        return handle

    def _create(self, client, parent: str, body: dict, run_id: str):
        """CreateCustomJob, retried while the service is UNAVAILABLE. An error that leaves it
        unknown whether the job was made (UNAVAILABLE, INTERNAL, UNKNOWN, a deadline) is
        followed by a look for a job with the run's label: that one is taken, not made twice."""
        exceptions = sdk.api_exceptions
        ambiguous = (
            exceptions.ServiceUnavailable,
            exceptions.InternalServerError,
            exceptions.Unknown,
            exceptions.DeadlineExceeded,
        )
        deadline = time.monotonic() + RETRY_SECONDS
        backoff = Backoff(first=0.2, most=5.0)
        while True:
            try:
                return client.create_custom_job(
                    parent=parent,
                    custom_job=sdk.aiplatform.CustomJob(proto_values(body)),
                    timeout=CALL_TIMEOUT_SECONDS,
                )
            except ambiguous as exc:
                backoff.sleep()
                existing = _find_by_label(client, parent, run_id)
                if existing is not None:
                    return existing
                retriable = isinstance(exc, exceptions.ServiceUnavailable)
                if not retriable or time.monotonic() + backoff.delay > deadline:
                    raise

    # -- following -----------------------------------------------------------------------------

    def status(self, handle: Handle) -> RunStatus:
        client, _ = self._client(handle["target"], Stage.RUN)
        name = handle["name"]
        try:
            job = client.get_custom_job(name=name, retry=_retry(), timeout=CALL_TIMEOUT_SECONDS)
        except sdk.api_exceptions.NotFound:
            message = f"the CustomJob {name} no longer exists (deleted outside launchbay)"
            return RunStatus.failed(Stage.RUN, message)
        except (sdk.api_exceptions.GoogleAPICallError, sdk.api_exceptions.RetryError) as exc:
            # Past the retries, or RESOURCE_EXHAUSTED, an expired token.
            return self.unknown_for_now(handle["run_id"], f"cannot read the job for now ({exc})")
        status = self.remember(handle["run_id"], job_status(job))  # names repeat across endpoints
        if status.state.is_terminal():
            self._drain_logs(handle)
        return status

    def poll_seconds(self, handle: Handle) -> float:
        return vertex_settings.VertexTarget.model_validate(handle["target"]).poll_seconds

    def wait(self, handle: Handle, timeout: float) -> RunStatus:
        self._follow_logs(handle)  # an adopted run's logs too
        return super().wait(handle, timeout)

    def _follow_logs(self, handle: Handle) -> None:
        """Start following the job's Cloud Logging entries, once per job, if the client is
        installed (when it is not, submit wrote where the logs are instead)."""
        if not sdk.logging_client_installed():
            return
        target = handle["target"]
        settings = vertex_settings.VertexTarget.model_validate(target)
        self.follow_logs(
            handle["run_id"],
            lambda: CloudLoggingFollower(
                project=vertex_settings.project_and_location(target)[0],
                job_id=handle["name"].rsplit("/", 1)[-1],
                credentials=settings.credentials,
                endpoint=settings.logging_endpoint,
                log_path=Path(handle["log"]),
                run_dir=Path(handle.get("run_dir") or Path(handle["log"]).parent),
                every=settings.poll_seconds,
                replicas=handle.get("replicas", 1),
            ),
        )

    def _drain_logs(self, handle: Handle) -> None:
        """Read the entries once more after the job's end, so its last lines are in the log."""
        self._follow_logs(handle)
        self.drain_logs(handle["run_id"])

    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        client, _ = self._client(handle["target"], Stage.RUN)
        # Ended already, or gone: nothing to stop.
        with contextlib.suppress(
            sdk.api_exceptions.FailedPrecondition, sdk.api_exceptions.NotFound
        ):
            client.cancel_custom_job(name=handle["name"], retry=_retry())

    def find(self, run_id: str, run_dir: Path) -> Handle | None:
        handle = self.recorded_handle(run_dir)
        if handle is None:
            return None
        client, parent = self._client(handle["target"], Stage.AGENT)
        job = _find_by_label(client, parent, run_id)
        if job is None:
            return None
        handle["name"] = job.name
        return handle


def _find_by_label(client, parent: str, run_id: str):
    request = sdk.aiplatform.ListCustomJobsRequest(
        parent=parent, filter=f'labels.{LABEL_RUN_ID}="{run_id}"'
    )
    for job in client.list_custom_jobs(request=request, retry=_retry()):
        return job
    return None


def _retry():
    """UNAVAILABLE retried with backoff, for up to RETRY_SECONDS."""
    return sdk.retry(RETRY_SECONDS)


def _note_logs(log_path: Path, job_name: str) -> None:
    """Say plainly where the job's output is when launchbay cannot follow it."""
    fd = open_append(log_path)
    try:
        os.write(fd, LOGS_HINT.format(job_id=job_name.rsplit("/", 1)[-1]).encode())
    finally:
        os.close(fd)

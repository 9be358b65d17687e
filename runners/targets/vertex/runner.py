"""The `vertex` resource (alias `gcp-vertex`): each run is a Vertex AI CustomJob.

The low-level `aiplatform_v1.JobServiceClient` is used (the high-level `aiplatform` package
takes twice as long to import), loaded on first use by the agent's run threads, never at
launch: the checks and the dry run are plain Python. The job is read every few seconds
(GetCustomJob, retried while UNAVAILABLE); cancel is CancelCustomJob; the CustomJob carries the
label `launchbay-run-id`, by which a restarted agent finds it again. The job's output is
followed from Cloud Logging (runners.targets.vertex.logs) when google-cloud-logging is installed.
"""

import contextlib
import json
import os
import re
import threading
import time
from pathlib import Path

from runners.images.builder import image_for_run
from runners.launch.templating import check_variables_are_enums
from runners.protocol import Capability, Handle, Runner, RunnerError, RunStatus, SubmitContext
from runners.runlog.logfile import open_append
from runners.system.files import write_private
from runners.targets.vertex import settings as vertex_settings
from runners.targets.vertex.logs import (
    CloudLoggingFollower,
    google_credentials,
    logging_client_installed,
)
from store import BadInput, JobVersion, RunState, Stage

LABEL_RUN_ID = "launchbay-run-id"
LABEL_QUEUE = "launchbay-queue"
RETRY_SECONDS = 60.0  # how long UNAVAILABLE is retried before the call gives up
CALL_TIMEOUT_SECONDS = 30.0  # one call: the generated client sets none, a dead link would hang
LOGS_HINT = (
    """[launchbay] this job's logs are in Cloud Logging (resource.type="ml_job","""
    """ resource.labels.job_id="{job_id}"); install google-cloud-logging"""
    """ (pip install 'launchbay[vertex]') for launchbay to follow them here\n"""
)
STATES = {
    "JOB_STATE_QUEUED": RunState.STARTING,
    "JOB_STATE_PENDING": RunState.STARTING,
    "JOB_STATE_RUNNING": RunState.RUNNING,
    "JOB_STATE_UPDATING": RunState.RUNNING,
    "JOB_STATE_SUCCEEDED": RunState.FINISHED,
    "JOB_STATE_FAILED": RunState.FAILED,
    "JOB_STATE_CANCELLING": RunState.STOPPING,
    "JOB_STATE_CANCELLED": RunState.STOPPED,
    "JOB_STATE_PAUSED": RunState.RUNNING,
    "JOB_STATE_EXPIRED": RunState.FAILED,
    "JOB_STATE_PARTIALLY_SUCCEEDED": RunState.FAILED,
}


class VertexRunner(Runner):
    resource_type = "vertex"
    capabilities = frozenset({Capability.BUILDS_IMAGES, Capability.NEEDS_REGISTRY})

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple, object] = {}
        self._last_seen: dict[str, RunStatus] = {}
        self._logs: dict[str, CloudLoggingFollower] = {}
        # By run id (a job's name is unique too, but not across test servers).
        self._drained: set[str] = set()  # runs whose last lines were read: not followed again

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
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = _connect(endpoint, key[1], stage)
        return client, f"projects/{project}/locations/{location}"

    # -- submit --------------------------------------------------------------------------------

    def submit(self, ctx: SubmitContext) -> Handle:
        from google.api_core import exceptions

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
        # Written before the job exists: an agent that dies in between finds it by its label.
        write_private(ctx.run_dir / "handle.json", json.dumps(handle))
        body = custom_job(ctx.spec, image)
        try:
            created = self._create(client, parent, body, ctx.run_id)
        except exceptions.GoogleAPICallError as exc:
            raise RunnerError(
                Stage.RUN, f"Vertex AI refused CreateCustomJob: {_describe(exc)}"
            ) from None
        handle["name"] = created.name
        if logging_client_installed():
            self._follow_logs(handle)
        else:
            _note_logs(ctx.log_path, created.name)
        return handle

    def _create(self, client, parent: str, body: dict, run_id: str):
        """CreateCustomJob, retried while the service is UNAVAILABLE. An error that leaves it
        unknown whether the job was made (UNAVAILABLE, INTERNAL, UNKNOWN, a deadline) is
        followed by a look for a job with the run's label: that one is taken, not made twice."""
        from google.api_core import exceptions
        from google.cloud import aiplatform_v1

        ambiguous = (
            exceptions.ServiceUnavailable,
            exceptions.InternalServerError,
            exceptions.Unknown,
            exceptions.DeadlineExceeded,
        )
        deadline = time.monotonic() + RETRY_SECONDS
        delay = 0.2
        while True:
            try:
                return client.create_custom_job(
                    parent=parent,
                    custom_job=aiplatform_v1.CustomJob(_proto_values(body)),
                    timeout=CALL_TIMEOUT_SECONDS,
                )
            except ambiguous as exc:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                existing = _find_by_label(client, parent, run_id)
                if existing is not None:
                    return existing
                retriable = isinstance(exc, exceptions.ServiceUnavailable)
                if not retriable or time.monotonic() + delay > deadline:
                    raise

    # -- following -----------------------------------------------------------------------------

    def status(self, handle: Handle) -> RunStatus:
        from google.api_core import exceptions

        client, _ = self._client(handle["target"], Stage.RUN)
        name = handle["name"]
        try:
            job = client.get_custom_job(name=name, retry=_retry(), timeout=CALL_TIMEOUT_SECONDS)
        except exceptions.NotFound:
            message = f"the CustomJob {name} no longer exists (deleted outside launchbay)"
            return RunStatus.failed(Stage.RUN, message)
        except (exceptions.GoogleAPICallError, exceptions.RetryError) as exc:
            # Past the retries, or RESOURCE_EXHAUSTED, an expired token: the job runs on
            # regardless, so the run keeps its last known state, with the reason.
            last = self._last_seen.get(handle["run_id"], RunStatus(RunState.STARTING))
            return RunStatus(last.state, f"cannot read the job for now ({exc})")
        status = job_status(job)
        self._last_seen[handle["run_id"]] = status  # names repeat across endpoints
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
        if not logging_client_installed():
            return
        target = handle["target"]
        settings = vertex_settings.VertexTarget.model_validate(target)
        with self._lock:
            if handle["run_id"] in self._logs or handle["run_id"] in self._drained:
                return
            self._logs[handle["run_id"]] = CloudLoggingFollower(
                project=vertex_settings.project_and_location(target)[0],
                job_id=handle["name"].rsplit("/", 1)[-1],
                credentials=settings.credentials,
                endpoint=settings.logging_endpoint,
                log_path=Path(handle["log"]),
                run_dir=Path(handle.get("run_dir") or Path(handle["log"]).parent),
                every=settings.poll_seconds,
                replicas=handle.get("replicas", 1),
            ).start()

    def _drain_logs(self, handle: Handle) -> None:
        """Read the entries once more after the job's end, so its last lines are in the log."""
        self._follow_logs(handle)
        with self._lock:
            follower = self._logs.pop(handle["run_id"], None)
            self._drained.add(handle["run_id"])
        if follower is not None:
            follower.job_ended.set()
            follower.done.wait(self.log_drain_seconds)

    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        from google.api_core import exceptions

        client, _ = self._client(handle["target"], Stage.RUN)
        # Ended already, or gone: nothing to stop.
        with contextlib.suppress(exceptions.FailedPrecondition, exceptions.NotFound):
            client.cancel_custom_job(name=handle["name"], retry=_retry())

    def find(self, run_id: str, run_dir: Path) -> Handle | None:
        try:
            handle = json.loads((run_dir / "handle.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        client, parent = self._client(handle["target"], Stage.AGENT)
        job = _find_by_label(client, parent, run_id)
        if job is None:
            return None
        handle["name"] = job.name
        return handle


def custom_job(spec: dict, image: str) -> dict:
    """The CustomJob for a run, as a plain dict (the proto-plus type takes it as it is)."""
    args = spec["resource_args"]
    job_spec, run = args["spec"], args.get("run") or {}
    pools = json.loads(json.dumps(job_spec["worker_pool_specs"]))  # a deep copy
    ours = {k: v for k, v in (spec.get("env") or {}).items() if k != "LAUNCHBAY_CONFIG_FILE"}
    for index, pool in enumerate(pools):
        container = pool.setdefault("container_spec", {})
        # A later pool with no image of its own runs the job too, as the workers of a
        # distributed run do (Vertex would refuse a pool without one); one with its own image
        # (a parameter server, a reduction server) is left as the queue wrote it.
        if index == 0 or not container.get("image_uri"):
            container["image_uri"] = image
            if spec.get("entry_point") is not None:
                container["command"] = list(spec["entry_point"])
            if spec.get("args"):
                container["args"] = list(spec["args"])
        env = [e for e in container.get("env") or [] if e.get("name") not in ours]
        container["env"] = env + [{"name": k, "value": v} for k, v in ours.items()]
    output = job_spec.get("base_output_dir") or (
        f"{job_spec['staging_bucket'].rstrip('/')}/launchbay/{spec['run_id']}"
    )
    body_spec = {
        "worker_pool_specs": pools,
        "base_output_directory": {"output_uri_prefix": output},
        **{key: value for key, value in run.items() if value is not None},
    }
    if job_spec.get("scheduling"):
        body_spec["scheduling"] = {k: v for k, v in job_spec["scheduling"].items() if v is not None}
    labels = {
        **job_spec.get("labels", {}),
        LABEL_RUN_ID: spec["run_id"],
        LABEL_QUEUE: _label_value(spec["queue"]),
    }
    return {
        "display_name": f"launchbay-{spec['job']['name']}-{spec['run_id']}"[:128],
        "labels": labels,
        "job_spec": body_spec,
    }


def _proto_values(body: dict) -> dict:
    """The dict form of a CustomJob as proto-plus takes it: durations ("3600s") as timedelta."""
    import datetime

    scheduling = body["job_spec"].get("scheduling") or {}
    for key in ("timeout", "max_wait_duration"):
        if isinstance(scheduling.get(key), str | int):
            seconds = float(str(scheduling[key]).removesuffix("s"))
            scheduling[key] = datetime.timedelta(seconds=seconds)
    return body


def job_status(job) -> RunStatus:
    state = job.state.name
    run_state = STATES.get(state, RunState.RUNNING)
    words = state.removeprefix("JOB_STATE_").lower()
    if run_state is RunState.FAILED:
        message = job.error.message or f"the CustomJob ended {words}"
        return RunStatus.failed(Stage.RUN, message)
    if run_state is RunState.FINISHED:
        return RunStatus(RunState.FINISHED, "succeeded", exit_code=0)
    return RunStatus(run_state, words)


def _find_by_label(client, parent: str, run_id: str):
    from google.cloud import aiplatform_v1

    request = aiplatform_v1.ListCustomJobsRequest(
        parent=parent, filter=f'labels.{LABEL_RUN_ID}="{run_id}"'
    )
    for job in client.list_custom_jobs(request=request, retry=_retry()):
        return job
    return None


def _retry():
    """UNAVAILABLE retried with backoff (the generated client retries nothing by itself)."""
    from google.api_core import exceptions, retry

    return retry.Retry(
        initial=0.2,
        maximum=5.0,
        multiplier=2.0,
        timeout=RETRY_SECONDS,
        predicate=retry.if_exception_type(exceptions.ServiceUnavailable),
    )


def _connect(endpoint: str, credentials: str, stage: Stage):
    from google.auth import exceptions as auth_exceptions
    from google.cloud import aiplatform_v1

    try:
        creds = google_credentials(credentials)
    except auth_exceptions.DefaultCredentialsError as exc:
        raise RunnerError(
            stage,
            f"no Google credentials ({exc}); run `gcloud auth application-default login` or set"
            " GOOGLE_APPLICATION_CREDENTIALS",
        ) from None
    return aiplatform_v1.JobServiceClient(
        credentials=creds, client_options={"api_endpoint": endpoint}
    )


def _note_logs(log_path: Path, job_name: str) -> None:
    """Say plainly where the job's output is when launchbay cannot follow it."""
    fd = open_append(log_path)
    try:
        os.write(fd, LOGS_HINT.format(job_id=job_name.rsplit("/", 1)[-1]).encode())
    finally:
        os.close(fd)


def _label_value(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower())[:63]


def _describe(exc) -> str:
    return f"{type(exc).__name__}: {exc.message}" if getattr(exc, "message", None) else str(exc)

"""moto's server with SageMaker training jobs that take time, for testing with the real boto3.

    fake = FakeSageMaker()                # jobs held Training until release(name)
    fake.start()                          # http://127.0.0.1:PORT: SageMaker, S3, Logs, STS...
    sagemaker = fake.client("sagemaker")
    ...
    fake.stop()

moto 5.2.5 completes a training job the moment it is created, has no StopTrainingJob (HTTP 500)
and silently replaces a job whose name is taken. start() patches moto's SageMaker classes in
this process, where the server runs in a thread, so that:
- a new job is InProgress/Starting and each DescribeTrainingJob moves it one step:
  Downloading, Training, and it stays Training until the test calls release(name): the
  describes after that show Uploading, then Completed. A test acts on a running job (stop, fail,
  interrupt, kill its agent) for as long as it needs, however slow the machine, and the job ends
  when the test says so. A job created while `hold` is False (a test that only waits for the
  end) is not held: its fourth describe shows Completed. ListTrainingJobs, Search and jobs()
  only look;
- fail(), interrupt() and StopTrainingJob decide what the next describe shows instead (a
  stopped job is Stopping at once, for ListTrainingJobs and jobs(); that describe: Stopped);
- a duplicate name is refused with ResourceInUse, a managed spot job without
  StoppingCondition.MaxWaitTimeInSeconds (or with one below MaxRuntimeInSeconds) with a
  ValidationException, as AWS does; Environment and RetryStrategy are kept;
  moto's made-up MetricDefinitions give way to the caller's; ModelArtifacts and the final
  metrics appear only once Completed.

A spot interruption (interrupt()) is shown as SageMaker documents a spot job that could not
get its capacity back within MaxWaitTimeInSeconds: TrainingJobStatus "Stopped", SecondaryStatus
"MaxWaitTimeExceeded", no FailureReason, and "Interrupted" as the last
SecondaryStatusTransitions entry (SageMaker lists "Interrupted" under InProgress: the spot
instances were reclaimed; the job ends once MaxWaitTimeInSeconds has run out).

Only one FakeSageMaker can run at a time: the patches are on moto's classes.
"""

import copy
import functools
import json
import threading
import time
import urllib.request
import uuid
from typing import Any
from unittest import mock

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import camelcase_to_underscores
from moto.moto_server import threaded_moto_server
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from .sagemaker_jobs import (
    ENDED,
    INTERRUPTED_MESSAGE,
    STATUS_MESSAGES,
    Outcome,
    Script,
    advance,
    check_spot_wait,
    enter,
)

REGION = "us-east-1"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
JSON_1_1 = "application/x-amz-json-1.1"  # SageMaker's protocol
# CreateTrainingJob fields that moto accepts but does not keep (DescribeTrainingJob has them).
KEPT_REQUEST_FIELDS = ("Environment", "RetryStrategy", "ProfilerConfig", "InfraCheckConfig")


class FakeSageMaker:
    """moto's server on 127.0.0.1 (ThreadedMotoServer on a free port), with SageMaker training
    jobs that take time."""

    _running: "FakeSageMaker | None" = None

    def __init__(self, *, hold: bool = True):
        # Read when a job is created: whether it stays at Training until release().
        self.hold = hold
        self.endpoint_url = ""
        # One lock for everything the server threads and the test thread share.
        self._lock = threading.RLock()
        self._scripts: dict[str, Script] = {}  # by job ARN
        self._requests: list[tuple[str, str | None]] = []
        self._throttles = 0
        self._forgotten: set[str] = set()  # job names deleted behind launchbay's back
        self._last_log_ms = 0
        self._patches: list[Any] = []
        self._server: ThreadedMotoServer | None = None
        self._logs = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        """Start the server and patch moto; returns the endpoint URL."""
        if FakeSageMaker._running is not None:
            raise RuntimeError("another FakeSageMaker is running in this process")
        FakeSageMaker._running = self
        try:
            self._patch()
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.endpoint_url = f"http://{host}:{port}"
            self._reset_moto()  # moto's backends are process-wide: drop an earlier test's jobs
        except BaseException:
            self.stop()
            raise
        return self.endpoint_url

    def stop(self) -> None:
        """Stop the server and undo every patch."""
        try:
            if self._server is not None:
                try:
                    self._reset_moto()  # nothing of this fake's jobs is left for the next user
                finally:
                    self._server.stop()
                    self._server = None
        finally:
            for patcher in reversed(self._patches):
                patcher.stop()
            self._patches.clear()
            if FakeSageMaker._running is self:
                FakeSageMaker._running = None

    def client(self, service: str, *, config: Config | None = None):
        """A boto3 client for `service` at the endpoint (us-east-1, dummy credentials)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            config=config,
        )

    def _reset_moto(self) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()
        with self._lock:
            self._scripts.clear()

    # -- behaviour controls ----------------------------------------------------------------

    def release(self, job_name: str) -> None:
        """The job's training is done: from its next describe on it goes Uploading, then
        Completed (one not yet at Training gets there first, a step per describe)."""
        with self._lock:
            script = self._script(job_name)
            if script.job.training_job_status in ENDED:
                raise ValueError(f"{job_name} already ended ({script.job.training_job_status})")
            script.held = False

    def fail(self, job_name: str, reason: str) -> None:
        """The job's next describe shows Failed with this FailureReason."""
        outcome = Outcome("Failed", "Failed", reason, "Failed", failure_reason=reason)
        self._set_outcome(job_name, outcome)

    def interrupt(self, job_name: str) -> None:
        """A managed-spot job loses its capacity and gets none back within MaxWaitTimeInSeconds,
        as the API documents it: the next describe shows InProgress / Interrupted, the one after
        Stopped / MaxWaitTimeExceeded (each with its own transition)."""
        stopped = Outcome(
            "Stopped", "MaxWaitTimeExceeded", INTERRUPTED_MESSAGE, "MaxWaitTimeExceeded"
        )
        outcome = Outcome(
            "InProgress", "Interrupted", INTERRUPTED_MESSAGE, "Interrupted", then=stopped
        )
        self._set_outcome(job_name, outcome, spot_only=True)

    def forget(self, job_name: str) -> None:
        """The job is deleted behind launchbay's back: from now on DescribeTrainingJob answers
        as moto does for a job it never had."""
        with self._lock:
            self._script(job_name)  # it exists until now
            self._forgotten.add(job_name)

    def throttle(self, count: int) -> None:
        """The next `count` SageMaker requests, whatever the action, get ThrottlingException."""
        with self._lock:
            self._throttles = count

    def put_log_lines(
        self, job_name: str, lines: list[str], stream_suffix: str = "algo-1-1700000000"
    ) -> None:
        """Log events in the job's CloudWatch stream, as the training container would write."""
        if self._logs is None:
            self._logs = self.client("logs")
        stream = f"{job_name}/{stream_suffix}"
        for create, kwargs in (
            (self._logs.create_log_group, {"logGroupName": LOG_GROUP}),
            (self._logs.create_log_stream, {"logGroupName": LOG_GROUP, "logStreamName": stream}),
        ):
            try:
                create(**kwargs)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                    raise
        events = []
        with self._lock:  # followers page by time: no two events may share a timestamp
            for line in lines:
                self._last_log_ms = max(int(time.time() * 1000), self._last_log_ms + 1)
                events.append({"timestamp": self._last_log_ms, "message": line})
        self._logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)

    def jobs(self) -> list[dict]:
        """DescribeTrainingJob's answer for every job, without moving any of them."""
        with self._lock:
            return [copy.deepcopy(s.job.response_object) for s in self._scripts.values()]

    @property
    def requests(self) -> list[tuple[str, str | None]]:
        """(action, job name or None) of every SageMaker request seen, throttled ones too."""
        with self._lock:
            return list(self._requests)

    def _set_outcome(self, job_name: str, outcome: Outcome, spot_only: bool = False) -> None:
        with self._lock:
            script = self._script(job_name)
            if script.job.training_job_status in ENDED:
                raise ValueError(f"{job_name} already ended ({script.job.training_job_status})")
            if spot_only and not script.job.enable_managed_spot_training:
                raise ValueError(f"{job_name} is not a managed spot job")
            script.outcome = outcome

    def _script(self, job_name: str) -> Script:
        matches = [s for s in self._scripts.values() if s.job.training_job_name == job_name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} training jobs named {job_name!r}")
        return matches[0]

    def _stop_job(self, backend: SageMakerModelBackend, name: str) -> None:
        with self._lock:
            job = backend.training_jobs.get(name)
            if job is None:
                arn = FakeTrainingJob.arn_formatter(name, backend.account_id, backend.region_name)
                raise ValidationError(f"Could not find training job '{arn}'.")  # as moto's describe
            if job.training_job_status in ENDED:
                raise ValidationError(
                    "The request was rejected because the training job is in status "
                    f"{job.training_job_status}."
                )
            if job.training_job_status == "InProgress":  # a second stop changes nothing
                enter(job, "Stopping", "Stopping", STATUS_MESSAGES["Stopping"], "Stopping")

    # -- patches on moto -------------------------------------------------------------------

    def _patch(self) -> None:
        fake = self
        backend_create = SageMakerModelBackend.create_training_job
        backend_describe = SageMakerModelBackend.describe_training_job
        backend_list = SageMakerModelBackend.list_training_jobs
        response_create = SageMakerResponse.create_training_job
        call_action = SageMakerResponse.call_action
        make_server = threaded_moto_server.make_server

        def create_training_job(backend, training_job_name, algorithm_specification, **kw):
            with fake._lock:
                if training_job_name in backend.training_jobs:
                    arn = backend.training_jobs[training_job_name].arn
                    raise ResourceInUseException(
                        "Training job names must be unique within an AWS account and region, "
                        f"and a training job with this name already exists ({arn})"
                    )
                check_spot_wait(kw)
                metric_definitions = algorithm_specification.get("MetricDefinitions")
                job = backend_create(
                    backend,
                    training_job_name=training_job_name,
                    algorithm_specification=algorithm_specification,
                    **kw,
                )
                # moto writes its own example metric over the caller's.
                job.algorithm_specification.pop("MetricDefinitions", None)
                if metric_definitions is not None:
                    job.algorithm_specification["MetricDefinitions"] = metric_definitions
                held_back = {"model_artifacts": job.model_artifacts}
                held_back["final_metric_data_list"] = job.final_metric_data_list
                for name in held_back:
                    setattr(job, name, None)  # None is left out of the answer
                job.training_job_status, job.secondary_status = "InProgress", "Starting"
                job.training_start_time = job.training_end_time = None
                starting = {"Status": "Starting", "StatusMessage": STATUS_MESSAGES["Starting"]}
                job.secondary_status_transitions = [{**starting, "StartTime": job.creation_time}]
                fake._scripts[job.arn] = Script(job, held=fake.hold, held_back=held_back)
                return job

        def describe_training_job(backend, training_job_name):
            with fake._lock:
                if training_job_name in fake._forgotten:
                    arn = FakeTrainingJob.arn_formatter(
                        training_job_name, backend.account_id, backend.region_name
                    )
                    raise ValidationError(f"Could not find training job '{arn}'.")
                job = backend.training_jobs.get(training_job_name)
                if job is not None and job.arn in fake._scripts:
                    advance(fake._scripts[job.arn])
                # A copy: the answer is serialized after the lock is let go.
                return copy.deepcopy(backend_describe(backend, training_job_name))

        def list_training_jobs(backend, *args, **kwargs):
            with fake._lock:
                answer = copy.deepcopy(backend_list(backend, *args, **kwargs))
                for summary in answer["TrainingJobSummaries"]:  # moto leaves it out
                    job = backend.training_jobs[summary["TrainingJobName"]]
                    summary["SecondaryStatus"] = job.secondary_status
                return answer

        def create_training_job_response(response):
            result = response_create(response)
            with fake._lock:
                backend = response.sagemaker_backend
                job = backend.training_jobs[response._get_param("TrainingJobName")]
                for key in KEPT_REQUEST_FIELDS:
                    value = response._get_param(key)
                    if value is not None:
                        setattr(job, camelcase_to_underscores(key), value)
            return result

        def stop_training_job_response(response) -> ActionResult:
            fake._stop_job(response.sagemaker_backend, response._get_param("TrainingJobName"))
            return EmptyResult()

        def call_action_recorded(response):
            action = response._get_action()
            name = response._get_param("TrainingJobName")
            arn = response._get_param("ResourceArn") or ""
            if name is None and ":training-job/" in arn:
                name = arn.rpartition("/")[2]
            with fake._lock:
                fake._requests.append((action, name))
                throttled = fake._throttles > 0
                if throttled:
                    fake._throttles -= 1
            if not throttled:
                return call_action(response)
            # Botocore's standard retry mode retries this code; the body is the JSON protocol's.
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
            request_id = str(uuid.uuid4())
            return 400, {"Content-Type": JSON_1_1, "x-amzn-RequestId": request_id}, body

        def make_quick_server(*args, **kwargs):
            # ThreadedMotoServer.stop() waits for serve_forever's next poll: 0.5 s by default.
            server = make_server(*args, **kwargs)
            server.serve_forever = functools.partial(server.serve_forever, poll_interval=0.05)
            return server

        targets = [
            (threaded_moto_server, "make_server", make_quick_server),
            (SageMakerModelBackend, "create_training_job", create_training_job),
            (SageMakerModelBackend, "describe_training_job", describe_training_job),
            (SageMakerModelBackend, "list_training_jobs", list_training_jobs),
            (SageMakerResponse, "create_training_job", create_training_job_response),
            (SageMakerResponse, "stop_training_job", stop_training_job_response),
            (SageMakerResponse, "call_action", call_action_recorded),
        ]
        for owner, attribute, replacement in targets:
            patcher = mock.patch.object(owner, attribute, replacement, create=True)
            patcher.start()
            self._patches.append(patcher)

"""The `sagemaker` resource: each run is an AWS SageMaker training job, through boto3.

Credentials come from the standard chain, or the profile the queue's `target:` names; region and
endpoint_url from there too. Throttling and transient errors are retried by botocore's standard
retry mode. The run follows DescribeTrainingJob (the SecondaryStatus as the run's message) and
copies the job's CloudWatch streams into the run's log.
"""

import json
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runners.images.builder import image_for_run
from runners.launch.rendering import config_env, deep_merge
from runners.launch.templating import check_variables_are_enums
from runners.launch.validation import check_model
from runners.protocol import Capability, Handle, Runner, RunnerError, RunStatus, SubmitContext
from runners.system.files import write_private
from runners.targets.sagemaker import request as request_model
from runners.targets.sagemaker.logs import CloudWatchFollower
from store import BadInput, JobVersion, RunState, Stage

CONFIG_CHANNEL = "launchbay-config"
CONFIG_FILE = f"/opt/ml/input/data/{CONFIG_CHANNEL}/config.json"
MAX_CONFIG_CHUNKS = 16  # more than this many 512-character env values: read it from S3 instead
TAG_RUN_ID = "launchbay:run-id"
TAG_QUEUE = "launchbay:queue"
STARTING_PHASES = frozenset(
    {
        "Starting",
        "Pending",
        "LaunchingMLInstances",
        "PreparingTrainingStack",
        "Downloading",
        "DownloadingTrainingImage",
        "Restarting",
        "Interrupted",
    }
)
# A launch may not change who the job runs as or which network it joins: the queue decides.
QUEUE_ONLY_FIELDS = ("RoleArn", "VpcConfig", "EnableNetworkIsolation", "RemoteDebugConfig")


class SageMakerTarget(BaseModel):
    """`target:` of a sagemaker queue."""

    model_config = ConfigDict(extra="forbid")

    region: str | None = None
    """AWS region (default: the profile's or AWS_REGION)."""
    profile: str | None = None
    """Named profile for credentials (default: the standard chain)."""
    endpoint_url: str | None = None
    """SageMaker, S3, STS and CloudWatch Logs endpoint (a test server, a VPC endpoint)."""
    poll_seconds: float = Field(default=10.0, gt=0, le=600)
    """How often the job is described while it runs."""
    log_poll_seconds: float = Field(default=5.0, gt=0, le=600)
    """How often its CloudWatch streams are read."""


class SageMakerRunner(Runner):
    resource_type = "sagemaker"
    capabilities = frozenset({Capability.BUILDS_IMAGES, Capability.NEEDS_REGISTRY})

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[tuple, Any] = {}
        self._logs: dict[str, CloudWatchFollower] = {}
        self._last_seen: dict[str, RunStatus] = {}

    # -- checks ------------------------------------------------------------------------------

    def check_target(self, target) -> dict | None:
        if target is None:
            return None
        if not isinstance(target, dict):
            raise BadInput("target", "expected a mapping with region, profile, endpoint_url")
        return check_model(SageMakerTarget, target, "target").model_dump(exclude_defaults=True)

    def normalize(self, resource_args: dict) -> dict:
        return request_model.normalize(resource_args)

    def check_resource_args(self, resource_args: dict, target: dict | None = None) -> dict:
        normalized = request_model.normalize(resource_args)
        request_model.check_required(normalized)
        request_model.validate(_sample_request(normalized))
        return normalized

    def check_template_placement(self, resource_args: dict, variables: dict) -> None:
        for key, value in resource_args.items():
            if key in (*QUEUE_ONLY_FIELDS, "role_arn", "vpc_config"):
                check_variables_are_enums(value, variables, f"resource_args.{key}")

    def check_launch_override(self, queue_args: dict, launch_args: dict, queue_config: dict):
        # Both already normalized (see normalize): one spelling of each field.
        for name in QUEUE_ONLY_FIELDS:
            if name in launch_args and launch_args[name] != queue_args.get(name):
                raise BadInput(f"resource_args.{name}", "can be set only in the queue's own config")

    def check_job(self, job: JobVersion) -> None:
        """Image jobs run their image; code and git jobs are built and pushed first."""

    def config_file_path(self, run_dir: Path) -> str:
        return CONFIG_FILE

    def preview_submission(self, spec: dict) -> dict:
        name = request_model.training_job_name(spec["job"]["name"], spec["run_id"])
        image = spec.get("image") or "<the image built and pushed for the run>"
        output = spec["resource_args"]["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        config_uri = f"{output}/launchbay/{spec['run_id']}/config.json"
        request, _ = _training_request(spec, name, image, config_uri)
        # A dry run (and the launch form, on every keystroke) stays offline: the account of a
        # bare role name is asked of STS at submit, with the agent's credentials.
        request["RoleArn"] = request_model.role_arn(
            request["RoleArn"], "<the account of the agent's credentials>"
        )
        return {"CreateTrainingJob": request}

    def _role_arn(self, role: str, target: dict) -> str:
        """A bare role name as the ARN of the configured account (asked of STS)."""
        if request_model.ROLE_ARN.fullmatch(role):
            return role
        sts = self._clients(target, Stage.RUN)[3]
        try:
            identity = sts.get_caller_identity()
            account, partition = identity["Account"], identity["Arn"].split(":")[1]
        except Exception as exc:
            raise RunnerError(
                Stage.RUN,
                f"RoleArn {role!r} is a role name, and the account it belongs to could not be"
                f" found (STS GetCallerIdentity: {exc}); give the full role ARN",
            ) from None
        return request_model.role_arn(role, account, partition)

    # -- AWS -----------------------------------------------------------------------------------

    def _clients(self, target: dict, stage: Stage):
        """(sagemaker, s3, logs, sts) clients for the target, with standard retries."""
        key = (target.get("profile"), target.get("region"), target.get("endpoint_url"))
        with self._lock:
            clients = self._sessions.get(key)
            if clients is None:
                clients = self._sessions[key] = _connect(target, stage)
            return clients

    # -- submit --------------------------------------------------------------------------------

    def submit(self, ctx: SubmitContext) -> Handle:
        from botocore.exceptions import BotoCoreError, ClientError

        target = ctx.spec.get("target") or {}
        sagemaker, s3, _, _ = self._clients(target, Stage.RUN)
        image = image_for_run(ctx)
        name = request_model.training_job_name(ctx.job.name, ctx.run_id)
        handle = {
            "job_name": name,
            "run_id": ctx.run_id,
            "target": target,
            "log": str(ctx.log_path),
            "run_dir": str(ctx.run_dir),
            "instances": _instance_count(ctx.spec["resource_args"]),
        }
        # Written before anything is created: an agent that dies in between finds it by it.
        write_private(ctx.run_dir / "handle.json", json.dumps(handle))
        output = ctx.spec["resource_args"]["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        config_uri = f"{output}/launchbay/{ctx.run_id}/config.json"
        try:
            _put_config(s3, config_uri, ctx.spec["run_config"])
            request, _ = _training_request(ctx.spec, name, image, config_uri)
            request["RoleArn"] = self._role_arn(request["RoleArn"], target)
            sagemaker.create_training_job(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ResourceInUse" and _ours(sagemaker, name, ctx.run_id):
                pass  # created by an agent that died right after: the same run, keep it
            else:
                raise RunnerError(
                    Stage.RUN,
                    f"SageMaker refused {exc.operation_name}: {error.get('Code')}:"
                    f" {error.get('Message')}",
                ) from None
        except BotoCoreError as exc:
            raise RunnerError(Stage.RUN, f"cannot reach AWS: {exc}") from None
        self._follow_logs(handle)
        return handle

    # -- following -----------------------------------------------------------------------------

    def status(self, handle: Handle) -> RunStatus:
        from botocore.exceptions import BotoCoreError, ClientError

        sagemaker = self._clients(handle["target"], Stage.RUN)[0]
        name = handle["job_name"]
        try:
            job = sagemaker.describe_training_job(TrainingJobName=name)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if _not_found(error):
                # The documented outcome of a remote object deleted behind launchbay's back.
                message = (
                    f"training job {name} no longer exists (deleted outside launchbay):"
                    f" {error.get('Message')}"
                )
                return RunStatus.failed(Stage.RUN, message)
            return self._unknown_for_now(name, f"{error.get('Code')}: {error.get('Message')}")
        except BotoCoreError as exc:
            return self._unknown_for_now(name, str(exc))
        status = job_status(job)
        self._last_seen[name] = status
        if status.state.is_terminal():
            self._drain_logs(handle)
        return status

    def _unknown_for_now(self, name: str, reason: str) -> RunStatus:
        """An error past botocore's retries (throttling, an expired token): the job runs on
        regardless, so the run keeps its last known state, with the reason as its message."""
        last = self._last_seen.get(name, RunStatus(RunState.STARTING))
        return RunStatus(last.state, f"cannot describe the job for now ({reason})")

    def poll_seconds(self, handle: Handle) -> float:
        return SageMakerTarget.model_validate(handle["target"]).poll_seconds

    def wait(self, handle: Handle, timeout: float) -> RunStatus:
        self._follow_logs(handle)  # an adopted run's logs too
        return super().wait(handle, timeout)

    def _follow_logs(self, handle: Handle) -> None:
        logs = self._clients(handle["target"], Stage.RUN)[2]
        every = SageMakerTarget.model_validate(handle["target"]).log_poll_seconds
        with self._lock:
            if handle["job_name"] not in self._logs:
                follower = CloudWatchFollower(
                    logs,
                    handle["job_name"],
                    Path(handle["log"]),
                    Path(handle["run_dir"]),
                    every,
                    instances=handle.get("instances", 1),
                )
                self._logs[handle["job_name"]] = follower.start()

    def _drain_logs(self, handle: Handle) -> None:
        """Read the streams once more after the job's end, so its last lines are in the log."""
        self._follow_logs(handle)
        with self._lock:
            follower = self._logs.pop(handle["job_name"], None)
        if follower is not None:
            follower.job_ended.set()
            follower.done.wait(self.log_drain_seconds)

    # -- cancel, re-adoption --------------------------------------------------------------

    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        """StopTrainingJob: SageMaker sends SIGTERM, then SIGKILL after its own 120 s."""
        from botocore.exceptions import ClientError

        sagemaker = self._clients(handle["target"], Stage.RUN)[0]
        try:
            sagemaker.stop_training_job(TrainingJobName=handle["job_name"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ValidationException":
                raise  # a job that already ended can't be stopped, and needn't be

    def find(self, run_id: str, run_dir: Path) -> Handle | None:
        try:
            handle = json.loads((run_dir / "handle.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        sagemaker = self._clients(handle["target"], Stage.AGENT)[0]
        return handle if _ours(sagemaker, handle["job_name"], run_id) else None


def job_status(job: dict) -> RunStatus:
    """A run state from DescribeTrainingJob's answer."""
    status = job["TrainingJobStatus"]
    secondary = job.get("SecondaryStatus") or ""
    transitions = job.get("SecondaryStatusTransitions") or []
    last = transitions[-1] if transitions else {}
    detail = last.get("StatusMessage") or ""
    message = f"{secondary}: {detail}" if detail else secondary
    if status == "InProgress":
        state = RunState.STARTING if secondary in STARTING_PHASES else RunState.RUNNING
        return RunStatus(state, message)
    # Managed spot: "Interrupted" while InProgress (capacity reclaimed, waiting for more), and
    # SageMaker resumes the job itself when capacity returns. Only a job that waited past
    # MaxWaitTimeInSeconds ended for want of capacity; one interrupted earlier that then failed
    # or was stopped ended for its own reasons.
    if status in ("Stopped", "Failed") and secondary == "MaxWaitTimeExceeded":
        return RunStatus(RunState.PREEMPTED, f"spot capacity reclaimed ({message})")
    if status == "Completed":
        return RunStatus(RunState.FINISHED, message or "Completed", exit_code=0)
    if status == "Failed":
        reason = job.get("FailureReason") or message or "the training job failed"
        return RunStatus.failed(Stage.RUN, reason)
    if status == "Stopping":
        return RunStatus(RunState.STOPPING, message or "Stopping")
    if status == "Stopped":
        return RunStatus(RunState.STOPPED, message or "Stopped")
    return RunStatus(RunState.RUNNING, f"{status}: {message}")


def _training_request(spec: dict, name: str, image: str, config_uri: str) -> tuple[dict, dict]:
    """(CreateTrainingJob request, the environment) for a run's spec."""
    args = spec["resource_args"]
    algorithm = deep_merge(args.get("AlgorithmSpecification") or {}, {"TrainingImage": image})
    algorithm.setdefault("TrainingInputMode", "File")
    if spec.get("entry_point") is not None:
        algorithm["ContainerEntrypoint"] = list(spec["entry_point"])
    if spec.get("args"):
        algorithm["ContainerArguments"] = list(spec["args"])
    env = _environment(spec, args.get("Environment") or {}, config_uri)
    channel = {
        "ChannelName": CONFIG_CHANNEL,
        "InputMode": "File",  # the config as a file, whatever the job's own input mode
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": config_uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }
    inputs = [
        c for c in args.get("InputDataConfig") or [] if c.get("ChannelName") != CONFIG_CHANNEL
    ]
    tags = [t for t in args.get("Tags") or [] if t.get("Key") not in (TAG_RUN_ID, TAG_QUEUE)]
    request = {
        **args,
        "TrainingJobName": name,
        "AlgorithmSpecification": algorithm,
        "Environment": env,
        "InputDataConfig": [*inputs, channel],
        "Tags": [
            *tags,
            {"Key": TAG_RUN_ID, "Value": spec["run_id"]},
            {"Key": TAG_QUEUE, "Value": spec["queue"]},
        ],
    }
    return request, env


def _environment(spec: dict, own: dict, config_uri: str) -> dict:
    """The job's Environment: the queue's and launch's, then launchbay's. SageMaker caps each
    value at 512 characters: the run config goes in chunks, or when too long for that, only as
    the S3 object (its URI in LAUNCHBAY_CONFIG_URI, and as the file LAUNCHBAY_CONFIG_FILE)."""
    ours = {
        k: v for k, v in (spec.get("env") or {}).items() if not k.startswith("LAUNCHBAY_CONFIG")
    }
    chunks = config_env(
        json.dumps(spec["run_config"], sort_keys=True), request_model.ENV_VALUE_LIMIT
    )
    pieces = len(chunks) - ("LAUNCHBAY_CONFIG_CHUNKS" in chunks)
    config = chunks if pieces <= MAX_CONFIG_CHUNKS else {}
    return {
        **own,
        **ours,
        **config,
        "LAUNCHBAY_CONFIG_URI": config_uri,
        "LAUNCHBAY_CONFIG_FILE": CONFIG_FILE,
    }


def _sample_request(normalized: dict) -> dict:
    """A request as a run would send it, for botocore's validator (the runner's own fields in)."""
    spec = {
        "resource_args": normalized,
        "run_id": "dryrun00",
        "queue": "queue",
        "entry_point": None,
        "args": [],
        "env": {},
        "run_config": {},
    }
    request, _ = _training_request(spec, "launchbay-sample-dryrun00", "image:latest", "s3://b/k")
    # A bare role name becomes an ARN at submit, once the account is known.
    request["RoleArn"] = request_model.role_arn(request["RoleArn"], "123456789012")
    return request


def _put_config(s3, uri: str, run_config: dict) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(run_config, indent=2).encode())


def _ours(sagemaker, name: str, run_id: str) -> bool:
    """Whether training job `name` exists and carries this run's tag (other errors raise: a
    throttled answer is no proof the job isn't there)."""
    from botocore.exceptions import ClientError

    try:
        job = sagemaker.describe_training_job(TrainingJobName=name)
    except ClientError as exc:
        if _not_found(exc.response.get("Error", {})):
            return False
        raise
    tags = sagemaker.list_tags(ResourceArn=job["TrainingJobArn"]).get("Tags") or []
    return {"Key": TAG_RUN_ID, "Value": run_id} in tags


def _instance_count(args: dict) -> int:
    resources = args.get("ResourceConfig") or {}
    groups = resources.get("InstanceGroups") or []
    return sum(g.get("InstanceCount", 1) for g in groups) or resources.get("InstanceCount", 1)


def _not_found(error: dict) -> bool:
    """SageMaker says "not found" with a ValidationException ("Could not find training job")."""
    message = str(error.get("Message", "")).lower()
    return error.get("Code") == "ResourceNotFound" or (
        error.get("Code") == "ValidationException"
        and ("not find" in message or "not found" in message)
    )


def _connect(target: dict, stage: Stage):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    retries = Config(retries={"mode": "standard", "max_attempts": 10})
    try:
        session = boto3.Session(
            profile_name=target.get("profile"), region_name=target.get("region")
        )
        endpoint = target.get("endpoint_url")
        return tuple(
            session.client(service, endpoint_url=endpoint, config=retries)
            for service in ("sagemaker", "s3", "logs", "sts")
        )
    except BotoCoreError as exc:
        raise RunnerError(
            stage,
            f"cannot set up AWS clients ({exc}); set target.region (and target.profile) in the"
            " queue config, or AWS_REGION and the usual credentials",
        ) from None

"""The `sagemaker` resource: each run is an AWS SageMaker training job, through boto3.

Credentials come from the standard chain, or the profile the queue's `target:` names; region and
endpoint_url from there too. Throttling and transient errors are retried by botocore's standard
retry mode. The run follows DescribeTrainingJob (the SecondaryStatus as the run's message) and
copies the job's CloudWatch streams into the run's log.
"""

import json
from pathlib import Path

from runners.images.builder import image_for_run
from runners.launch.templating import check_variables_are_enums
from runners.protocol import Capability, Handle, RunnerError, RunStatus, SubmitContext
from runners.targets.remote import RemoteRunner
from runners.targets.sagemaker import request as request_model
from runners.targets.sagemaker import sdk
from runners.targets.sagemaker import settings as sagemaker_settings
from runners.targets.sagemaker.logs import CloudWatchFollower
from runners.targets.sagemaker.request import CONFIG_FILE, TAG_RUN_ID
from runners.targets.sagemaker.settings import QUEUE_ONLY_FIELDS, SageMakerTarget
from runners.targets.sagemaker.status import job_status, not_found
from store import JobVersion, Stage


class SageMakerRunner(RemoteRunner):
    resource_type = "sagemaker"
    capabilities = frozenset({Capability.BUILDS_IMAGES, Capability.NEEDS_REGISTRY})

    # -- checks ------------------------------------------------------------------------------

    def check_target(self, target) -> dict | None:
        return sagemaker_settings.check_target(target)

    def normalize(self, resource_args: dict) -> dict:
        return request_model.normalize(resource_args)

    def check_resource_args(self, resource_args: dict, target: dict | None = None) -> dict:
        normalized = request_model.normalize(resource_args)
        request_model.check_required(normalized)
        request_model.validate(request_model.sample_request(normalized))
        return normalized

    def check_template_placement(self, resource_args: dict, variables: dict) -> None:
        for key, value in resource_args.items():
            if key in (*QUEUE_ONLY_FIELDS, "role_arn", "vpc_config"):
                check_variables_are_enums(value, variables, f"resource_args.{key}")

    def check_launch_override(self, queue_args: dict, launch_args: dict, queue_config: dict):
        sagemaker_settings.check_override(queue_args, launch_args)

    def check_job(self, job: JobVersion) -> None:
        """Image jobs run their image; code and git jobs are built and pushed first."""

    def config_file_path(self, run_dir: Path) -> str:
        return CONFIG_FILE

    def run_files(self, spec: dict, run_dir: Path):
        """The job's output in S3: `S3OutputPath/<training job name>/`."""
        from runners.runfiles import RunFiles
        from runners.targets.sagemaker.files import S3Files

        output = ((spec.get("resource_args") or {}).get("OutputDataConfig") or {}).get(
            "S3OutputPath"
        )
        if not str(output or "").startswith("s3://"):
            return RunFiles(None, "sagemaker run without an s3:// OutputDataConfig.S3OutputPath")
        handle = self.recorded_handle(run_dir) or {}
        name = handle.get("job_name") or request_model.job_name_for(spec)
        target = handle.get("target") or spec.get("target") or {}
        uri = f"{output.rstrip('/')}/{name}/"
        return RunFiles(None, remote=S3Files(uri, lambda: self._clients(target, Stage.RUN)[1]))

    def preview_submission(self, spec: dict) -> dict:
        name = request_model.job_name_for(spec)
        image = spec.get("image") or "<the image built and pushed for the run>"
        config_uri = request_model.config_uri(spec)
        request, _ = request_model.training_request(spec, name, image, config_uri)
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
        return self.client(key, lambda: sdk.connect(target, stage))

    # -- submit --------------------------------------------------------------------------------

    def submit(self, ctx: SubmitContext) -> Handle:
        target = ctx.spec.get("target") or {}
        sagemaker, s3, _, _ = self._clients(target, Stage.RUN)
        # A queue's own TrainingImage runs instead of the job's: nothing to build then.
        image = request_model.given_image(ctx.spec) or image_for_run(ctx)
        name = request_model.job_name_for(ctx.spec)
        handle = {
            "job_name": name,
            "run_id": ctx.run_id,
            "target": target,
            "log": str(ctx.log_path),
            "run_dir": str(ctx.run_dir),
            "instances": request_model.instance_count(ctx.spec["resource_args"]),
        }
        self.record_handle(ctx.run_dir, handle)
        config_uri = request_model.config_uri(ctx.spec)
        try:
            _put_config(s3, config_uri, ctx.spec["run_config"])
            request, _ = request_model.training_request(ctx.spec, name, image, config_uri)
            request["RoleArn"] = self._role_arn(request["RoleArn"], target)
            sagemaker.create_training_job(**request)
        except sdk.errors.ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ResourceInUse" and _ours(sagemaker, name, ctx.run_id):
                pass  # created by an agent that died right after: the same run, keep it
            else:
                raise RunnerError(
                    Stage.RUN,
                    f"SageMaker refused {exc.operation_name}: {error.get('Code')}:"
                    f" {error.get('Message')}",
                ) from None
        except sdk.errors.BotoCoreError as exc:
            raise RunnerError(Stage.RUN, f"cannot reach AWS: {exc}") from None
        self._follow_logs(handle)
        return handle

    # -- following -----------------------------------------------------------------------------

    def status(self, handle: Handle) -> RunStatus:
        sagemaker = self._clients(handle["target"], Stage.RUN)[0]
        name = handle["job_name"]
        try:
            job = sagemaker.describe_training_job(TrainingJobName=name)
        except sdk.errors.ClientError as exc:
            error = exc.response.get("Error", {})
            if not_found(error):
                # The documented outcome of a remote object deleted behind launchbay's back.
                message = (
                    f"training job {name} no longer exists (deleted outside launchbay):"
                    f" {error.get('Message')}"
                )
                return RunStatus.failed(Stage.RUN, message)
            return self._unknown_for_now(name, f"{error.get('Code')}: {error.get('Message')}")
        except sdk.errors.BotoCoreError as exc:
            return self._unknown_for_now(name, str(exc))
        status = self.remember(name, job_status(job))
        if status.state.is_terminal():
            self._drain_logs(handle)
        return status

    def _unknown_for_now(self, name: str, reason: str) -> RunStatus:
        """An error past botocore's retries (throttling, an expired token)."""
        return self.unknown_for_now(name, f"cannot describe the job for now ({reason})")

    def poll_seconds(self, handle: Handle) -> float:
        return SageMakerTarget.model_validate(handle["target"]).poll_seconds

    def wait(self, handle: Handle, timeout: float) -> RunStatus:
        self._follow_logs(handle)  # an adopted run's logs too
        return super().wait(handle, timeout)

    def _follow_logs(self, handle: Handle) -> None:
        logs = self._clients(handle["target"], Stage.RUN)[2]
        every = SageMakerTarget.model_validate(handle["target"]).log_poll_seconds
        self.follow_logs(
            handle["job_name"],
            lambda: CloudWatchFollower(
                logs,
                handle["job_name"],
                Path(handle["log"]),
                Path(handle["run_dir"]),
                every,
                instances=handle.get("instances", 1),
            ),
        )

    def _drain_logs(self, handle: Handle) -> None:
        """Read the streams once more after the job's end, so its last lines are in the log."""
        self._follow_logs(handle)
        self.drain_logs(handle["job_name"])

    # -- cancel, re-adoption --------------------------------------------------------------

    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        """StopTrainingJob: SageMaker sends SIGTERM, then SIGKILL after its own 120 s."""
        sagemaker = self._clients(handle["target"], Stage.RUN)[0]
        try:
            sagemaker.stop_training_job(TrainingJobName=handle["job_name"])
        except sdk.errors.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ValidationException":
                raise  # a job that already ended can't be stopped, and needn't be

    def find(self, run_id: str, run_dir: Path) -> Handle | None:
        handle = self.recorded_handle(run_dir)
        if handle is None:
            return None
        sagemaker = self._clients(handle["target"], Stage.AGENT)[0]
        return handle if _ours(sagemaker, handle["job_name"], run_id) else None


def _put_config(s3, uri: str, run_config: dict) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(run_config, indent=2).encode())


def _ours(sagemaker, name: str, run_id: str) -> bool:
    """Whether training job `name` exists and carries this run's tag (other errors raise: a
    throttled answer is no proof the job isn't there)."""
    try:
        job = sagemaker.describe_training_job(TrainingJobName=name)
    except sdk.errors.ClientError as exc:
        if not_found(exc.response.get("Error", {})):
            return False
        raise
    tags = sagemaker.list_tags(ResourceArn=job["TrainingJobArn"]).get("Tags") or []
    return {"Key": TAG_RUN_ID, "Value": run_id} in tags

"""A sagemaker run's state, from DescribeTrainingJob's answer."""

import dataclasses

from runners.protocol import RunStatus
from store import RunState, Stage

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


def job_status(job: dict) -> RunStatus:
    """A run state from DescribeTrainingJob's answer; an ended job's with its
    `TrainingEndTime` (a datetime, as boto3 parses it)."""
    status = _job_state(job)
    end_time = job.get("TrainingEndTime")
    if not status.state.is_terminal() or end_time is None:
        return status
    return dataclasses.replace(status, ended_at=end_time.timestamp())


def _job_state(job: dict) -> RunStatus:
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


def not_found(error: dict) -> bool:
    """Whether an API error says the job does not exist: SageMaker says "not found" with a
    ValidationException ("Could not find training job")."""
    message = str(error.get("Message", "")).lower()
    return error.get("Code") == "ResourceNotFound" or (
        error.get("Code") == "ValidationException"
        and ("not find" in message or "not found" in message)
    )

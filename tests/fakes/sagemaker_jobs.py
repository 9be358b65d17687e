"""The life of a training job in the fake SageMaker (tests/fakes/sagemaker.py): its phases, the
outcomes a test sets, and the request checks AWS makes that moto does not."""

from dataclasses import dataclass, field
from typing import Any

from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError

ENDED = frozenset({"Completed", "Failed", "Stopped"})
# TrainingStartTime is stamped on entering one of these (the instances are up).
TRAINING_PHASES = frozenset({"Downloading", "Training", "Uploading", "Completed"})
STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
}
INTERRUPTED_MESSAGE = (
    "Spot instances were interrupted and capacity was not regained within MaxWaitTimeInSeconds"
)


# The SecondaryStatus a job left alone goes through, a step per describe (a held job stays at
# Training until released).
PHASES = ("Starting", "Downloading", "Training", "Uploading", "Completed")


@dataclass
class Outcome:
    """What the next describe shows instead of the next step."""

    status: str
    secondary: str
    message: str
    transition: str  # the SecondaryStatusTransitions entry (differs for a spot interruption)
    failure_reason: str | None = None
    then: "Outcome | None" = None  # what the describe after that shows


@dataclass
class Script:
    """The fake's own state of one job, kept off the moto object (whose every attribute is
    serialized into DescribeTrainingJob and Search answers)."""

    job: Any  # moto's FakeTrainingJob
    held: bool  # stays at Training until release()
    phase: int = 0  # index in PHASES
    outcome: Outcome | None = None
    held_back: dict[str, Any] = field(default_factory=dict)  # shown once Completed


def enter(job: Any, status: str, secondary: str, message: str, transition: str) -> None:
    """Move moto's job to (status, secondary), its transitions and times as SageMaker keeps them."""
    now = utcnow()
    transitions = job.secondary_status_transitions
    if transitions[-1]["Status"] != transition:  # Training, Training…: one entry
        transitions[-1].setdefault("EndTime", now)
        transitions.append({"Status": transition, "StartTime": now, "StatusMessage": message})
    job.training_job_status = status
    job.secondary_status = secondary
    job.last_modified_time = now
    if job.training_start_time is None and secondary in TRAINING_PHASES:
        job.training_start_time = now
    if status in ENDED:
        transitions[-1].setdefault("EndTime", now)
        job.training_end_time = now


def advance(script: Script) -> None:
    """One describe's worth of progress: the outcome a test set, else the next phase."""
    job = script.job
    if job.training_job_status in ENDED:
        return
    if script.outcome is not None:
        o = script.outcome
        script.outcome = o.then
        job.failure_reason = o.failure_reason
        enter(job, o.status, o.secondary, o.message, o.transition)
    elif job.training_job_status == "Stopping":
        enter(job, "Stopped", "Stopped", STATUS_MESSAGES["Stopped"], "Stopped")
    else:
        # Ends when the test says so (release, fail, interrupt, stop), never by the clock.
        if not (script.held and PHASES[script.phase] == "Training"):
            script.phase += 1
        secondary = PHASES[script.phase]
        status = "Completed" if secondary == "Completed" else "InProgress"
        if status == "Completed":
            for name, value in script.held_back.items():
                setattr(job, name, value)
        enter(job, status, secondary, STATUS_MESSAGES[secondary], secondary)


def check_spot_wait(request: dict) -> None:
    """AWS's refusal of a managed spot job without a MaxWaitTimeInSeconds at least as long as
    its MaxRuntimeInSeconds (moto takes it)."""
    if not request.get("enable_managed_spot_training"):
        return
    stopping = request.get("stopping_condition") or {}
    wait, runtime = stopping.get("MaxWaitTimeInSeconds"), stopping.get("MaxRuntimeInSeconds")
    if wait is None or (runtime is not None and wait < runtime):
        raise ValidationError(
            "Invalid MaxWaitTimeInSeconds for a managed spot training job: it must be present"
            " and greater than or equal to MaxRuntimeInSeconds."
        )

"""A run's state from what the cluster says of its Job and pods (plain dicts, as the API sends).

Pending/ContainerCreating → starting; Running → running; the Job complete → finished; failed →
failed with the container's reason and exit code; Unschedulable → still starting, with the
scheduler's words as the run's message; an image that won't pull → failed at stage build once
the grace is over; a disruption (eviction, preemption) → preempted; the Job deleted by someone
else → failed, saying so.
"""

import dataclasses
from dataclasses import dataclass, field

from runners.protocol import RunStatus, describe_exit
from runners.system.timestamps import unix_time
from store import RunState, Stage

PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
DISRUPTION_REASONS = ("Evicted", "Preempting", "Terminated")


@dataclass
class Observed:
    """The latest of what the watches saw of one run."""

    job: dict | None = None
    job_deleted: bool = False  # a DELETED event, or 404 on read
    deleted_by_us: bool = False
    pods: dict[str, dict] = field(default_factory=dict)
    pull_failing_since: dict[str, float] = field(default_factory=dict)  # pod name → first seen


def derive(seen: Observed, *, now: float, pull_grace: float, batch_job: bool) -> RunStatus:
    pods = sorted(seen.pods.values(), key=lambda p: p["metadata"].get("creationTimestamp") or "")
    if seen.job_deleted:
        if seen.deleted_by_us:
            return RunStatus(RunState.STOPPED, "the Job was deleted on cancel")
        message = "the Job was deleted outside launchbay (kubectl delete, or the cluster's TTL)"
        return RunStatus.failed(Stage.RUN, message)
    disrupted = next((p for p in pods if _disruption(p)), None)
    if disrupted is not None:
        return RunStatus(RunState.PREEMPTED, f"preempted: {_disruption(disrupted)}")
    if batch_job:
        ended = _job_ended(seen.job, pods) if seen.job is not None else None
    else:
        ended = _custom_ended(seen.job, pods)
    if ended is not None:
        return dataclasses.replace(ended, ended_at=_ended_at(seen.job, pods))
    live = [p for p in pods if (p.get("status") or {}).get("phase") in ("Pending", "Running")]
    if not live:
        return RunStatus(RunState.STARTING, "waiting for the Job's pod")
    pod = live[-1]
    name = pod["metadata"]["name"]
    waiting = _waiting(pod)
    if waiting and waiting[0] in PULL_FAILURES:
        since = seen.pull_failing_since.setdefault(name, now)
        message = f"{waiting[0]}: {waiting[1]}" if waiting[1] else waiting[0]
        if now - since >= pull_grace:
            text = f"the image could not be pulled ({message})"
            return RunStatus.failed(Stage.BUILD, text)
        return RunStatus(RunState.STARTING, message)
    seen.pull_failing_since.pop(name, None)
    phase = pod["status"]["phase"]
    if phase == "Running":
        return RunStatus(RunState.RUNNING, f"pod {name} running")
    unschedulable = _condition(pod, "PodScheduled")
    if unschedulable and unschedulable.get("status") == "False":
        reason = unschedulable.get("reason") or "not scheduled"
        return RunStatus(RunState.STARTING, f"{reason}: {unschedulable.get('message', '')}".strip())
    if waiting:
        return RunStatus(RunState.STARTING, waiting[0])
    return RunStatus(RunState.STARTING, f"pod {name} pending")


def _job_ended(job: dict, pods: list[dict]) -> RunStatus | None:
    conditions = {c.get("type"): c for c in (job.get("status") or {}).get("conditions") or []}
    if _true(conditions.get("Complete")) or _true(conditions.get("SuccessCriteriaMet")):
        return RunStatus(RunState.FINISHED, "the Job completed", exit_code=0)
    failed = conditions.get("Failed") or conditions.get("FailureTarget")
    if not _true(failed):
        return None
    terminated = _last_termination(pods)
    if terminated is not None:
        code = terminated.get("exitCode")
        reason = terminated.get("reason") or "Error"
        text = "out of memory (OOMKilled)" if reason == "OOMKilled" else describe_exit(code)
        message = f"{text}; {reason}" if reason not in ("Error", "OOMKilled") else text
        return RunStatus.failed(Stage.RUN, message, exit_code=code)
    message = f"the Job failed: {failed.get('reason', '')} {failed.get('message', '')}".strip()
    return RunStatus.failed(Stage.RUN, message)


# How operators say their job ended: Kubeflow (Succeeded/Failed conditions), JobSet
# (Completed/Failed), Volcano (status.state.phase).
SUCCESS_CONDITIONS = ("Succeeded", "Complete", "Completed")
SUCCESS_PHASES = ("Completed",)
FAILURE_PHASES = ("Failed", "Aborted", "Terminated")


def _custom_ended(obj: dict | None, pods: list[dict]) -> RunStatus | None:
    """A custom kind's end, from its own status when it has one we can read: its operator may
    retry a failed pod, so the pods only decide when it says nothing."""
    status = (obj or {}).get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    phase = (status.get("state") or {}).get("phase")
    if any(_true(conditions.get(kind)) for kind in SUCCESS_CONDITIONS) or phase in SUCCESS_PHASES:
        return RunStatus(RunState.FINISHED, f"the {obj.get('kind', 'job')} completed", exit_code=0)
    failed = conditions.get("Failed")
    if _true(failed) or phase in FAILURE_PHASES:
        terminated = _last_termination(pods)
        code = terminated.get("exitCode") if terminated else None
        said = (failed or {}).get("message") or (status.get("state") or {}).get("message")
        message = said or (describe_exit(code) if code is not None else f"{phase or 'Failed'}")
        return RunStatus.failed(Stage.RUN, message, exit_code=code)
    if conditions or phase:
        return None  # it has a say, and has not said the end yet
    return _pods_ended(pods) if pods else None


def _pods_ended(pods: list[dict]) -> RunStatus | None:
    """A custom kind whose status we can't read: its pods tell."""
    phases = [(p.get("status") or {}).get("phase") for p in pods]
    if "Failed" in phases:
        terminated = _last_termination(pods)
        code = terminated.get("exitCode") if terminated else None
        message = describe_exit(code) if code is not None else "a pod failed"
        return RunStatus.failed(Stage.RUN, message, exit_code=code)
    if phases and all(phase == "Succeeded" for phase in phases):
        return RunStatus(RunState.FINISHED, "every pod succeeded", exit_code=0)
    return None


def _disruption(pod: dict) -> str | None:
    condition = _condition(pod, "DisruptionTarget")
    if _true(condition):
        return f"{condition.get('reason', 'disrupted')}: {condition.get('message', '')}".rstrip(
            ": "
        )
    status = pod.get("status") or {}
    if status.get("phase") == "Failed" and status.get("reason") in DISRUPTION_REASONS:
        return f"{status['reason']}: {status.get('message', '')}".rstrip(": ")
    return None


def _waiting(pod: dict) -> tuple[str, str] | None:
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting:
            return waiting.get("reason") or "Waiting", waiting.get("message") or ""
    return None


def _ended_at(job: dict | None, pods: list[dict]) -> float | None:
    """When the job ended, as the cluster says: its containers' last `finishedAt`, else the
    Job's `completionTime`, else when its Failed condition was set (a run that ended while no
    agent watched keeps it)."""
    ends = [
        unix_time(terminated.get("finishedAt"))
        for pod in pods
        for container in (pod.get("status") or {}).get("containerStatuses") or []
        if (terminated := (container.get("state") or {}).get("terminated"))
    ]
    known = [end for end in ends if end is not None]
    if known:
        return max(known)
    status = (job or {}).get("status") or {}
    failed = next((c for c in status.get("conditions") or [] if c.get("type") == "Failed"), {})
    return unix_time(status.get("completionTime") or failed.get("lastTransitionTime"))


def _last_termination(pods: list[dict]) -> dict | None:
    for pod in reversed(pods):
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (container.get("state") or {}).get("terminated")
            if terminated and terminated.get("exitCode") not in (None, 0):
                return terminated
    return None


def _condition(pod: dict, kind: str) -> dict | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def _true(condition: dict | None) -> bool:
    return bool(condition) and condition.get("status") == "True"

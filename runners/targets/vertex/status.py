"""A vertex run's state, from its CustomJob's."""

import dataclasses

from runners.protocol import RunStatus
from store import RunState, Stage

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


def job_status(job) -> RunStatus:
    """A run state from GetCustomJob's answer; an ended job's with its `end_time`."""
    status = _job_state(job)
    end_time = getattr(job, "end_time", None)  # a datetime, None while unset
    if not status.state.is_terminal() or end_time is None:
        return status
    return dataclasses.replace(status, ended_at=end_time.timestamp())


def _job_state(job) -> RunStatus:
    state = job.state.name
    run_state = STATES.get(state, RunState.RUNNING)
    words = state.removeprefix("JOB_STATE_").lower()
    if run_state is RunState.FAILED:
        message = job.error.message or f"the CustomJob ended {words}"
        return RunStatus.failed(Stage.RUN, message)
    if run_state is RunState.FINISHED:
        return RunStatus(RunState.FINISHED, "succeeded", exit_code=0)
    return RunStatus(run_state, words)

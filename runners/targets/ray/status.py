"""A ray run's state, from the Jobs API's JobDetails (status, message, error_type,
driver_exit_code)."""

import dataclasses

from runners.protocol import RunStatus, describe_exit
from store import RunState, Stage

# Ray's FAILED message ends with the job's last log lines, which the run's log already has.
LOGS_IN_MESSAGE = ", last available logs"
ENVIRONMENT_FAILURES = frozenset({"RUNTIME_ENV_SETUP_FAILURE"})


def job_status(
    status: str,
    message: str | None,
    error_type: str | None,
    exit_code: int | None,
    end_time_ms: int | None = None,
) -> RunStatus:
    """A run state from a Ray job's status (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED); an
    ended job's with the time it ended (JobDetails.end_time, in milliseconds)."""
    seen = _job_state(status, message, error_type, exit_code)
    if not seen.state.is_terminal() or not end_time_ms:
        return seen
    return dataclasses.replace(seen, ended_at=end_time_ms / 1000)


def _job_state(status, message, error_type, exit_code) -> RunStatus:
    said = _summary(message)
    if status == "PENDING":
        return RunStatus(RunState.STARTING, said)
    if status == "RUNNING":
        return RunStatus(RunState.RUNNING, said)
    if status == "SUCCEEDED":
        return RunStatus(RunState.FINISHED, said or "exited with code 0", exit_code=0)
    if status == "STOPPED":
        return RunStatus(RunState.STOPPED, said or "the Ray job was stopped")
    if status == "FAILED":
        if error_type in ENVIRONMENT_FAILURES:
            # pip, py_modules or the working_dir could not be set up: nothing of the job ran
            reason = f"Ray could not set up the job's runtime_env: {said}"
            return RunStatus.failed(Stage.BUILD, reason)
        if exit_code is not None:
            reason = describe_exit(exit_code)
            return RunStatus.failed(Stage.RUN, f"{reason} ({said})" if said else reason, exit_code)
        return RunStatus.failed(Stage.RUN, said or "the Ray job failed")
    return RunStatus(RunState.RUNNING, f"{status}: {said}")


def _summary(message: str | None) -> str | None:
    """Ray's message in one line: a runtime_env failure holds a whole traceback and pip's
    output, whose first and last lines say what happened."""
    lines = [line.strip() for line in (message or "").split(LOGS_IN_MESSAGE, 1)[0].splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 1:
        return f"{lines[0]} … {lines[-1]}"
    return lines[0] if lines else None

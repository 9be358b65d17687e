"""A Ray job's status (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED) as a run's state, with the
job's message (the states a real head gives are in tests/runners/test_ray.py; these are the
mapping's edges, which a head gives only on failures hard to cause: a runtime_env that can't be
set up needs a package index)."""

import pytest

from runners.targets.ray.status import job_status
from store import RunState

CASES = [
    ("PENDING", "Job has not started yet.", None, None, RunState.STARTING, "Job has not started"),
    ("RUNNING", "Job is currently running.", None, None, RunState.RUNNING, "currently running"),
    ("SUCCEEDED", "Job finished successfully.", None, 0, RunState.FINISHED, "successfully"),
    ("STOPPED", "Job was intentionally stopped.", None, None, RunState.STOPPED, "stopped"),
]


@pytest.mark.parametrize(("status", "message", "error_type", "code", "state", "says"), CASES)
def test_each_status_is_a_run_state_with_the_jobs_message(
    status, message, error_type, code, state, says
):
    seen = job_status(status, message, error_type, code)
    assert seen.state is state
    assert says in seen.message


def test_a_failed_entry_point_fails_at_run_with_its_exit_code_without_rays_log_excerpt():
    message = (
        "Job entrypoint command failed with exit code 3, last available logs (truncated…):\\nx"
    )
    seen = job_status("FAILED", message, "JOB_ENTRYPOINT_COMMAND_ERROR", 3)
    assert (seen.state, seen.error_stage, seen.exit_code) == (RunState.FAILED, "run", 3)
    assert (
        seen.error_message == "exited with code 3 (Job entrypoint command failed with exit code 3)"
    )


def test_a_runtime_env_that_could_not_be_set_up_fails_at_build_in_one_line():
    # As a head without a package index says it (after some minutes of retries).
    message = (
        "runtime_env setup failed: Failed to set up runtime environment.\n"
        "Traceback (most recent call last):\n  File ...\n"
        "    ERROR: No matching distribution found for nosuchpkg==0.0.1\n"
    )
    seen = job_status("FAILED", message, "RUNTIME_ENV_SETUP_FAILURE", None)
    assert (seen.state, seen.error_stage) == (RunState.FAILED, "build")
    assert seen.error_message == (
        "Ray could not set up the job's runtime_env: runtime_env setup failed: Failed to set up"
        " runtime environment. … ERROR: No matching distribution found for nosuchpkg==0.0.1"
    )


def test_an_ended_job_carries_the_time_it_ended_and_a_live_one_none():
    assert job_status("FAILED", "x", None, 3, end_time_ms=1_700_000_000_500).ended_at == (
        1_700_000_000.5
    )
    assert job_status("RUNNING", "x", None, None, end_time_ms=None).ended_at is None

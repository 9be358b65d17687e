"""A slurm run's state, from its job's record in `squeue --json` (Slurm 22.05's fields:
job_state, state_reason, exit_code as a wait status, restart_cnt).

PENDING waits, with Slurm's reason (Priority, Resources, QOSMaxGRESPerUser, …) as the run's
message; RUNNING runs; COMPLETED finished; FAILED, OUT_OF_MEMORY, TIMEOUT, NODE_FAIL and their
kin failed, with the reason and the exit code; PREEMPTED (or a job Slurm requeued) preempted,
which launchbay requeues up to the queue's max_resumes; CANCELLED by anyone but launchbay
failed, saying so (a cancel launchbay asked for ends the run `stopped`: the agent knows it
asked).
"""

import dataclasses

from runners.protocol import RunStatus, describe_exit
from store import RunState, Stage

WAITING = frozenset({"PENDING", "CONFIGURING", "RESV_DEL_HOLD", "REQUEUE_HOLD", "SIGNALING"})
LIVE = frozenset({"RUNNING", "COMPLETING", "STAGE_OUT", "SUSPENDED", "RESIZING", "STOPPED"})
REQUEUED = frozenset({"REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD"})
FAILURES = {
    "FAILED": "failed",
    "OUT_OF_MEMORY": "ran out of memory",
    "TIMEOUT": "reached its time limit",
    "NODE_FAIL": "lost its node (NODE_FAIL)",
    "BOOT_FAIL": "could not boot its node (BOOT_FAIL)",
    "DEADLINE": "passed its deadline",
    "SPECIAL_EXIT": "ended with a special exit",
}
CANCELLED_OUTSIDE = "cancelled outside launchbay"


def exit_code_of(exit_code) -> int:
    """The job's exit code as a shell's `$?` (a signal N is 128 + N). Slurm 22.05 gives a
    wait status (the exit code in the high byte, a signal in the low 7 bits); 23.02 and later
    an object: {"return_code": {"set", "number"}, "signal": {"signal_id": {"set", "number"}}}."""
    if isinstance(exit_code, dict):
        signal = _number((exit_code.get("signal") or {}).get("signal_id"))
        return 128 + signal if signal else _number(exit_code.get("return_code"))
    wait_status = int(exit_code or 0)
    signal = wait_status & 0x7F
    return 128 + signal if signal else (wait_status >> 8) & 0xFF


def _number(value) -> int:
    if isinstance(value, dict):
        return int(value.get("number") or 0) if value.get("set", True) else 0
    return int(value or 0)


def state_of(job: dict) -> str:
    """JOB_STATE: a string in 22.05, a list of flags (the state first) from 23.02."""
    state = job.get("job_state") or "UNKNOWN"
    if isinstance(state, list):
        state = state[0] if state else "UNKNOWN"
    return str(state).split()[0]


def job_status(job: dict) -> RunStatus:
    """A run state from the job's record; an ended job's with the time it ended (`end_time`:
    for a live job that is only the time limit's end, so it is read for ended jobs alone)."""
    status = _job_state(job)
    if not status.state.is_terminal():
        return status
    return dataclasses.replace(status, ended_at=_number(job.get("end_time")) or None)


def _job_state(job: dict) -> RunStatus:
    state = state_of(job)
    reason = job.get("state_reason") or "None"
    job_id = job.get("job_id")
    if state in REQUEUED or (job.get("restart_cnt") or 0) > 0:
        return RunStatus(
            RunState.PREEMPTED, f"Slurm requeued job {job_id} ({state}, reason {reason})"
        )
    if state in WAITING:
        return RunStatus(RunState.STARTING, f"waiting in Slurm's queue: {reason}")
    if state in LIVE:
        note = "" if state == "RUNNING" else f" ({state.lower()})"
        return RunStatus(RunState.RUNNING, f"Slurm job {job_id} running{note}")
    code = exit_code_of(job.get("exit_code"))
    if state == "COMPLETED":
        return RunStatus(RunState.FINISHED, "exited with code 0", exit_code=0)
    if state == "PREEMPTED":
        return RunStatus(RunState.PREEMPTED, f"Slurm job {job_id} was preempted")
    if state == "CANCELLED":
        return RunStatus.failed(
            Stage.RUN,
            f"Slurm job {job_id} was {CANCELLED_OUTSIDE} (scancel, or an administrator)",
            exit_code=code or None,
        )
    what = FAILURES.get(state, f"ended {state}")
    detail = describe_exit(code) if code else "no exit code"
    if reason not in ("None", "NonZeroExitCode"):
        detail += f", reason {reason}"
    return RunStatus.failed(
        Stage.RUN, f"Slurm job {job_id} {what}: {detail}", exit_code=code or None
    )


def recorded_exit(code: int, job_id: str) -> RunStatus:
    """The end of a job Slurm no longer lists, from the exit status its script recorded."""
    if code == 0:
        return RunStatus(RunState.FINISHED, "exited with code 0", exit_code=0)
    return RunStatus.failed(Stage.RUN, f"Slurm job {job_id}: {describe_exit(code)}", exit_code=code)

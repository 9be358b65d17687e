"""A docker run's state from its container's, and the ended status kept after the container
is removed (so that a run whose container we removed still reads as it ended)."""

import dataclasses
import json
from pathlib import Path

from runners.protocol import Handle, RunStatus, describe_exit
from runners.system.files import write_private
from runners.system.timestamps import unix_time
from runners.targets.docker.limits import format_bytes
from store import RunState, Stage

EXIT_RECORD = "container_exit.json"  # the ended status, kept after the container is removed


def ended_status(state: dict, memory_limit: int | None) -> RunStatus:
    """The status of an ended container, from its inspected `State`, with the time it ended
    (`FinishedAt`): a run that ended while no agent watched keeps it."""
    return dataclasses.replace(
        _ended_how(state, memory_limit), ended_at=unix_time(state.get("FinishedAt"))
    )


def _ended_how(state: dict, memory_limit: int | None) -> RunStatus:
    code = state.get("ExitCode")
    if state.get("OOMKilled"):
        limit = f" (limit {format_bytes(memory_limit)})" if memory_limit else ""
        return RunStatus.failed(Stage.RUN, "out of memory" + limit, exit_code=code)
    if code == 0:
        return RunStatus(RunState.FINISHED, "exited with code 0", exit_code=0)
    reason = describe_exit(code) if code is not None else "the container died"
    if state.get("Error"):
        reason += f": {state['Error']}"
    return RunStatus.failed(Stage.RUN, reason, exit_code=code)


def vanished_status(handle: Handle) -> RunStatus:
    """A container that no longer exists: as it ended if we removed it ourselves, else the
    documented outcome of a remote object deleted behind launchbay's back."""
    recorded = recorded_exit(handle)
    if recorded is not None:
        return recorded
    return RunStatus.failed(
        Stage.RUN,
        "its container is gone (deleted outside launchbay, or the engine lost it)",
        error_message=f"container {handle.get('name')} no longer exists (deleted outside"
        " launchbay)",
    )


def record_exit(handle: Handle, status: RunStatus) -> None:
    record = {
        "state": status.state.value,
        "message": status.message,
        "exit_code": status.exit_code,
        "error_stage": status.error_stage.value if status.error_stage else None,
        "error_message": status.error_message,
        "ended_at": status.ended_at,
    }
    write_private(Path(handle["run_dir"]) / EXIT_RECORD, json.dumps(record))


def recorded_exit(handle: Handle) -> RunStatus | None:
    try:
        record = json.loads((Path(handle["run_dir"]) / EXIT_RECORD).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return RunStatus(
        RunState(record["state"]),
        record["message"],
        exit_code=record["exit_code"],
        error_stage=Stage(record["error_stage"]) if record["error_stage"] else None,
        error_message=record["error_message"],
        ended_at=record.get("ended_at"),
    )

"""Waiting on evidence: a condition polled until it holds, a run until it reaches a state."""

import time
from collections.abc import Callable
from pathlib import Path

from store import Store


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition"):
    """Poll `condition` until truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def run_of(store: Store, item_id: int, states=None, timeout: float = 60):
    """The run of `item_id` once it is in one of `states` (default: any terminal state)."""

    def reached():
        run = store.runs.find_for_item(item_id)
        if run is None:
            return None
        done = run.state in states if states else run.state.is_terminal()
        return run if done else None

    return wait_for(reached, timeout, f"the run of item {item_id} to reach {states or 'its end'}")


def log_of(store: Store, run_id: str) -> str:
    """The run's log so far ("" before it has one), its `\r`s kept (a redrawn line's states)."""
    path = store.run_log_path(run_id)
    return path.read_bytes().decode() if path.exists() else ""


def run_state(store: Store, run_id: str) -> str:
    return store.runs.get(run_id).state.value


def run_for_item(store: Store, item_id: int):
    return store.runs.find_for_item(item_id)


def forget_handle(store: Store, run_id: str) -> None:
    """As if the agent died after submitting the run and before recording where it is: the
    next agent must find it by the runner's own labels or tags."""
    store.conn.execute("UPDATE runs SET handle = NULL WHERE id = ?", (run_id,))
    assert store.runs.get(run_id).handle is None


def lines_after_a_kill_between_copy_and_cursor(
    start_follower, log: Path, cursor: Path, add_lines
) -> list[str]:
    """A polling follower's log (CloudWatch, Cloud Logging) when its agent was killed after it
    copied a page, before it recorded its cursor: a first follower copies `one` and `two`; its
    cursor goes back to what it was as it started; `three` comes; a second follower reads on
    to the end. `start_follower()` starts one on `log`; `add_lines(lines)` adds to the job's
    output. Returns the log's lines, which should be each line once."""
    first = start_follower()
    wait_for(cursor.exists)
    as_it_started = cursor.read_bytes()
    add_lines(["one", "two"])
    wait_for(lambda: log.exists() and "two" in log.read_text())
    first.finish()
    assert first.done.wait(30)
    cursor.write_bytes(as_it_started)
    add_lines(["three"])
    second = start_follower()
    second.finish()
    assert second.done.wait(30)
    return log.read_text().splitlines()

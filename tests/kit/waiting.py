"""Waiting on evidence: a condition polled until it holds, a run until it reaches a state."""

import time
from collections.abc import Callable

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
    """The run's log so far ("" before it has one)."""
    path = store.run_log_path(run_id)
    return path.read_text() if path.exists() else ""


def run_state(store: Store, run_id: str) -> str:
    return store.runs.get(run_id).state.value


def run_for_item(store: Store, item_id: int):
    return store.runs.find_for_item(item_id)


def forget_handle(store: Store, run_id: str) -> None:
    """As if the agent died after submitting the run and before recording where it is: the
    next agent must find it by the runner's own labels or tags."""
    store.conn.execute("UPDATE runs SET handle = NULL WHERE id = ?", (run_id,))
    assert store.runs.get(run_id).handle is None

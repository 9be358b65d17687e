"""Waiting for the store to reach a state, and running an agent in a background thread."""

import threading
import time
from collections.abc import Callable

from runners.agent.loop import Agent
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


class AgentThread:
    """An Agent running in a thread, stopped and joined by `stop()`. What it reports is
    printed (pytest shows it when a test fails); an exception that ends it is raised again
    by `stop()`."""

    def __init__(self, db_path, **kwargs):
        kwargs.setdefault("report", lambda message: print(f"[{self.agent.id}] {message}"))
        self.agent = Agent(db_path, **kwargs)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.agent.run()
        except BaseException as exc:
            self.error = exc
            raise

    def __enter__(self) -> "AgentThread":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.agent.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "agent thread did not stop"
        if self.error is not None:
            raise AssertionError(f"the agent thread died: {self.error!r}") from self.error


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

"""Agents for tests: in a thread of this process, or as a process of their own (SIGKILL one to
play a crash)."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from kit.cli import REPO
from kit.stream_lines import StreamLines


class AgentThread:
    """An Agent running in a thread, stopped and joined by `stop()`. What it reports is
    printed (pytest shows it when a test fails); an exception that ends it is raised again
    by `stop()`."""

    def __init__(self, db_path, **kwargs):
        from runners.agent.loop import Agent

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


def run_agent(db_path: Path, **kwargs):
    """Run an agent until its queues are empty; returns it."""
    from runners.agent.loop import Agent

    agent = Agent(db_path, until_empty=True, **kwargs)
    agent.run()
    return agent


def agent_process(
    db_path: Path,
    queue: str | None,
    *args: str,
    crash_at: str | None = None,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
) -> subprocess.Popen:
    """A headless agent as its own process, on `queue` (None: every queue). `crash_at` names
    the point where it kills itself (LAUNCHBAY_CRASH_AT); without it none is inherited."""
    env = {k: v for k, v in os.environ.items() if k != "LAUNCHBAY_CRASH_AT"}
    if crash_at:
        env["LAUNCHBAY_CRASH_AT"] = crash_at
    queues = ["-q", queue] if queue else []
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--db", str(db_path), "agent", *queues, *args],
        cwd=REPO,
        env=env,
        stdout=stdout,
        stderr=stderr,
        text=True,
    )


@contextlib.contextmanager
def agent_killed_after(db_path: Path, queue: str, *args: str):
    """An agent process that is SIGKILLed (a crash) when the block ends, however it ends."""
    agent = agent_process(db_path, queue, *args)
    try:
        yield agent
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=30)


def run_agent_until_empty(db_path: Path, queue: str, timeout: float = 120) -> str:
    """A headless agent run until its queue has nothing left; returns what it printed."""
    output, _ = agent_process(db_path, queue, "--until-empty").communicate(timeout=timeout)
    return output


class AgentOutput:
    """A headless agent process whose output is read as it comes, so a test can wait for a
    line it printed (evidence, not a sleep). Killed when the block ends, if still running."""

    def __init__(self, db_path: Path, queue: str | None, *args: str):
        self.process = agent_process(db_path, queue, *args)
        self.output = StreamLines(self.process.stdout, "the agent's output")

    def wait_for_line(self, text: str, timeout: float = 60) -> str:
        """The first line holding `text`; fails the test if the agent ends or the time passes
        without it."""
        return self.output.wait_for(text, timeout)

    def finish(self, timeout: float = 120) -> str:
        """Wait for the agent to end by itself; returns all it printed."""
        self.process.wait(timeout=timeout)
        return self.output.join()

    def __enter__(self) -> "AgentOutput":
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self.output.join()

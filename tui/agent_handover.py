"""The embedded agent's hand-over (mixed into the app): quitting while it alone serves live runs
or waiting items asks first, and may leave a background agent (a detached `launchbay agent`,
its output in a log beside the database) to carry on; and the footer names the other agents
serving the store, so an app opened later shows that background agent."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from runners.agent.waiting import live_agents


@dataclass(frozen=True)
class WorkLeft:
    """What the embedded agent would leave unserved if the app quit now."""

    live_runs: int
    waiting_items: int

    def __str__(self) -> str:
        parts = []
        if self.live_runs:
            parts.append(f"{self.live_runs} live run(s)")
        if self.waiting_items:
            parts.append(f"{self.waiting_items} waiting item(s)")
        return " and ".join(parts)


def work_left(store, agent) -> WorkLeft | None:
    """What only `agent` serves: its live runs and the waiting items of the queues it serves,
    where no other live agent serves that queue too (another one re-adopts a run whose agent
    stopped, and takes the items); None when there is nothing."""
    others = [a for a in live_agents(store) if a.id != agent.id]

    def served_elsewhere(queue_name: str) -> bool:
        return any(not a.queues or queue_name in a.queues for a in others)

    live = sum(
        1
        for run in store.runs.list(agent_id=agent.id, live_only=True)
        if not served_elsewhere(run.queue)
    )
    waiting = sum(
        len(store.items.waiting(queue.id))
        for queue in store.queues.list()
        if (not agent.queue_names or queue.name in agent.queue_names)
        and not served_elsewhere(queue.name)
    )
    return WorkLeft(live, waiting) if live or waiting else None


def start_background_agent(db_path: Path, queues: tuple[str, ...], max_jobs: int):
    """A `launchbay agent` in its own session (it outlives the terminal); returns its pid and
    its log, in `<db>.files/agents/`."""
    from store.paths import files_dir_for, make_private_dir

    folder = files_dir_for(db_path) / "agents"
    make_private_dir(folder)
    log_path = folder / f"background-{time.strftime('%Y%m%d-%H%M%S')}.log"
    command = [sys.executable, "-m", "tui.cli", "--db", str(db_path), "agent"]
    command += [arg for name in queues for arg in ("-q", name)]
    command += ["--max-jobs", str(max_jobs)]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=Path(__file__).resolve().parent.parent,  # where `tui` is importable from
        )
    return process.pid, log_path


def other_agents_text(records) -> str:
    """`pid 4121 (all queues), pid 4133@gpu-box (gpu)` for the footer."""
    host = socket.gethostname()
    return ", ".join(
        f"pid {r.pid}{'' if r.hostname == host else '@' + r.hostname}"
        f" ({', '.join(r.queues) or 'all queues'})"
        for r in records
    )


# How long quitting waits for the embedded agent to stop before the background one starts.
AGENT_STOP_SECONDS = 30.0


class AgentHandover:
    """Mixed into the app: `check_other_agents()` on mount and on store changes; the quit
    action."""

    def check_other_agents(self) -> None:
        if getattr(self, "_others_loader", None) is None:
            self._others_loader = self.loader(
                "other-agents", self._read_other_agents, self._show_other_agents, self._failed
            )
        self._others_loader.start()

    def _read_other_agents(self) -> str:
        own = self._embedded_agent.id if self._embedded_agent is not None else None
        return other_agents_text(a for a in live_agents(self.stores.get()) if a.id != own)

    def _show_other_agents(self, text: str) -> None:
        self.agent_others = text

    def action_quit(self) -> None:
        agent = self._embedded_agent
        if agent is None or self._agent_stopped.is_set():
            self.exit()
            return
        self.loader(
            "quit-check", lambda: work_left(self.stores.get(), agent), self._ask, self._failed
        ).start()

    def _ask(self, left: WorkLeft | None) -> None:
        from .screens.quit import QuitScreen

        if left is None:
            self.exit()
            return
        if isinstance(self.screen, QuitScreen):
            return  # asked already
        self.push_screen(QuitScreen(str(left)), self._answered)

    def _answered(self, answer: str | None) -> None:
        if answer == "quit":
            self.exit()
        elif answer == "background":
            self.loader("hand-over", self._hand_over, self._handed_over, self._failed).start()

    def _hand_over(self):
        """On a thread: the embedded agent stops (its runs stay live), then the background
        agent starts and re-adopts them."""
        self._embedded_agent.stop()
        self._agent_stopped.wait(AGENT_STOP_SECONDS)
        return start_background_agent(self.db_path, self.agent_queue_names, self.agent_max)

    def _handed_over(self, started) -> None:
        pid, log_path = started
        self.exit(
            message=f"launchbay: a background agent (pid {pid}) serves"
            f" {', '.join(self.agent_queue_names) or 'all queues'}; its log: {log_path};"
            f" stop it with: kill {pid}"
        )

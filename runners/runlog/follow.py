"""Following a launch (`launchbay launch --follow`): what its item waits for, then its run's
state changes and log, until it ends; a retry is followed on to its next attempt, and a
preempted run to the run of its requeued item.

It sleeps on the store's change signal (runners/agent/changes.py: inotify and PRAGMA
data_version) and the log's own watch (runlog/logfile.py), never on a fixed poll; the only
timer is how often the reason an item waits is looked at again when nothing was written (an
agent that died writes nothing).
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from runners.agent.changes import ChangeListener
from runners.agent.waiting import NO_AGENT, waiting_reasons
from runners.runlog.logfile import follow_lines
from store import ItemState, Run, RunState, Store

# Reasons that depend on time (an agent gone, a backoff ending) are looked at this often.
REASON_RECHECK_SECONDS = 2.0


@dataclass
class Followed:
    """How a followed launch ended: its last run (None if no run was made) and why."""

    run: Run | None
    message: str

    @property
    def exit_code(self) -> int:
        """0 finished; 1 anything else (failed, crashed, stopped, preempted, never ran)."""
        return 0 if self.run is not None and self.run.state is RunState.FINISHED else 1


class LaunchFollower:
    """Follows item `item_id`; `say` gets status lines, `write_line` the run's log lines,
    `redrawn` the latest state of a log line still being redrawn (see follow_lines).
    `current_run` is the run being followed (for a ctrl+c to name). `own_agent`: an agent of
    this process is starting, so "no agent" only means "not registered yet"."""

    def __init__(
        self,
        store: Store,
        item_id: int,
        say: Callable[[str], None],
        write_line: Callable[[str], None],
        own_agent: bool = False,
        redrawn: Callable[[str], None] | None = None,
    ):
        self.own_agent = own_agent
        self.redrawn = redrawn
        self.store = store
        self.item_id = item_id
        self.say = say
        self.write_line = write_line
        self.current_run: str | None = None

    def follow(self) -> Followed:
        changes = ChangeListener(self.store)
        try:
            while True:
                run = self._wait_for_claim(changes)
                if isinstance(run, Followed):
                    return run
                ended = self._follow_run(changes, run)
                next_item = self._next_item(ended)
                if next_item is None:
                    return Followed(ended, ended.message or ended.state.value)
                self.item_id = next_item
                self.current_run = None
        finally:
            changes.close()

    def _wait_for_claim(self, changes: ChangeListener) -> Run | Followed:
        said = None
        while True:
            changes.mark_seen()
            item = self.store.items.get(self.item_id)
            run = self.store.runs.find_for_item(self.item_id)
            if run is not None:
                return run
            if item.state in (ItemState.FAILED, ItemState.CANCELLED):
                error = f" at {item.error_stage}: {item.error_message}" if item.error_stage else ""
                return Followed(None, f"item {item.id} {item.state.value}{error}")
            reason = self._reason(item)
            if reason != said:
                self.say(f"item {item.id} waits on queue {item.queue}: {reason}")
                said = reason
            changes.wait(time.monotonic() + REASON_RECHECK_SECONDS)

    def _reason(self, item) -> str:
        queue = self.store.queues.get(item.queue)
        for waiting, reason in waiting_reasons(self.store, queue):
            if waiting.id == item.id:
                return "this process's agent is starting" if self._own_starting(reason) else reason
        return "an agent is taking it"

    def _own_starting(self, reason: str) -> bool:
        return self.own_agent and reason == NO_AGENT

    def _follow_run(self, changes: ChangeListener, run: Run) -> Run:
        self.current_run = run.id
        self.say(f"run {run.id}: item {run.item_id} claimed ({run.job} on {run.queue})")
        ended = threading.Event()
        reader = threading.Thread(
            target=self._copy_log, args=(run.id, ended), name="launchbay-follow-log", daemon=True
        )
        reader.start()
        seen_events = 1  # the claim, said above
        while True:
            changes.mark_seen()
            run = self.store.runs.get(run.id)
            events = self.store.runs.events(run.id)
            for event in events[seen_events:]:
                message = f" ({event.message})" if event.message else ""
                self.say(f"run {run.id}: {event.to_state}{message}")
            seen_events = len(events)
            if run.state.is_terminal():
                break
            changes.wait(time.monotonic() + REASON_RECHECK_SECONDS)
        ended.set()
        reader.join()
        if run.message and run.message != (events[-1].message if events else None):
            self.say(f"run {run.id}: {run.message}")  # what became of it: retried, requeued
        return run

    def _copy_log(self, run_id: str, ended: threading.Event) -> None:
        log = self.store.run_log_path(run_id)
        for line in follow_lines(log, ended.is_set, redrawn=self.redrawn):
            self.write_line(line)

    def _next_item(self, run: Run) -> int | None:
        """The item this run's end started, if any: the retry its policy started (the next
        attempt), or, for a preempted run, its requeue (the same attempt, resumed once more);
        says which it follows on to."""
        item = self.store.items.get(run.item_id)
        launch_items = self.store.items.attempts(item.id)
        if run.state in (RunState.FAILED, RunState.CRASHED):
            what = "the retry"
            later = [i.id for i in launch_items if i.attempt == item.attempt + 1]
        elif run.state is RunState.PREEMPTED:
            what = "the requeued run"
            later = [
                i.id
                for i in launch_items
                if (i.attempt, i.resume_count) == (item.attempt, item.resume_count + 1)
            ]
        else:
            return None
        if not later:
            return None
        self.say(f"run {run.id} {run.state.value}: following {what}, item {later[0]}")
        return later[0]

"""The agent's recovery: leases of agents that are gone, their live runs re-adopted, and runs
that never started put back in line (a mixin of `Agent`, run on the agent thread)."""

import socket
import time

from runners.agent.runs import LiveRun
from runners.protocol import RunStatus
from runners.registry import get_runner
from runners.system import procinfo
from store import BadInput, Run, RunState, Stage, Store
from store.agents import AgentRecord

HEARTBEAT_SECONDS = 10.0
DEFAULT_MAX_RESUMES = 5  # a preempted run is requeued this often unless the queue says otherwise


class Recovery:
    """Sweeping up after agents that are gone, on the agent thread."""

    def _sweep(self, store: Store) -> None:
        """Release expired leases and the leases of dead agents; adopt their live runs."""
        agents = {record.id: record for record in store.agents.not_stopped()}
        dead = [a for a in agents if a != self.id and not _agent_alive(agents[a])]
        released = store.items.release_leases_of(dead) + store.items.release_expired_leases()
        if released:
            self._report(f"released {released} lease(s) of agents that are gone")
        served = {q.name for q in self._served_queues(store)}
        for run in store.runs.list(live_only=True):
            if run.id in self.live or run.queue not in served:
                continue
            mine_unwatched = run.agent_id == self.id  # its re-adoption failed earlier
            if run.agent_id in agents and run.agent_id not in dead and not mine_unwatched:
                continue  # another live agent owns it
            self._adopt(store, run)

    def _adopt(self, store: Store, run: Run) -> None:
        try:
            runner = get_runner(run.resource)
        except BadInput as exc:
            self._record_error(store, f"run {run.id}: cannot adopt: {exc}")
            return
        if not store.runs.take_over(run.id, self.id, run.agent_id):
            return  # another agent adopted it first
        run_dir = store.run_dir(run.id)
        try:
            handle = run.handle or runner.find(run.id, run_dir)
            never_started = False
            if handle is None:
                # Nothing found: if the runner can make sure it never starts, it never ran;
                # if it can't, the run may have started just now, and is found this time.
                never_started = runner.abandon(run.id, run_dir)
                handle = None if never_started else runner.find(run.id, run_dir)
            status = runner.status(handle) if handle is not None else None
        except Exception as exc:  # the target unreachable for now: ours, tried again next sweep
            self._record_error(
                store, f"run {run.id}: cannot re-adopt it yet ({exc}); trying again in a while"
            )
            return
        if never_started:
            self._end_unstarted(store, run)
            return
        live = LiveRun(
            run_id=run.id, item_id=run.item_id, runner=runner, spec=run.spec, handle=handle
        )
        self.live[run.id] = live
        self._follow_metrics(run.id)  # read to its end even if it ended while no agent watched
        if handle is None:
            self._apply_status(
                store,
                live,
                RunStatus(
                    RunState.CRASHED,
                    "the agent stopped before the run was submitted",
                    error_stage=Stage.AGENT,
                    error_message="agent died before submitting the run",
                ),
            )
            return
        if run.handle is None:
            store.runs.set_handle(run.id, handle)
        if status.state is RunState.RUNNING and run.state is RunState.STARTING:
            self._apply_status(store, live, status)
        if status.state.is_terminal():
            self._apply_status(store, live, status)
            self._report(f"run {run.id}: ended while no agent watched ({status.state.value})")
            return
        self._report(f"run {run.id}: re-adopted ({run.job} on {run.queue})")
        if run.state is RunState.STOPPING:
            live.stop_wanted = True
            self._cancel(live, run)
        self._pool.submit(self._watch, live, handle)

    def _end_unstarted(self, store: Store, run: Run) -> None:
        """A run whose agent died between claim and start: nothing ran, so its item goes back
        to its place in line (or, if a stop was asked for meanwhile, the run ends stopped)."""
        if run.state is RunState.STOPPING:
            store.runs.transition(run.id, RunState.STOPPED, "stopped before it started")
            self._report(f"run {run.id}: stopped before it started")
            return
        message = (
            f"never started: its agent stopped before starting it; item {run.item_id}"
            " went back to the queue"
        )
        with store.transaction():  # nobody sees the item failed, or the run live, meanwhile
            store.runs.transition(
                run.id,
                RunState.CRASHED,
                message,
                error_stage=Stage.AGENT,
                error_message="the agent died between claim and start",
            )
            store.items.requeue_unstarted(run.item_id, run.id)
        self._report(f"run {run.id}: {message}")

    def _requeue_preempted(self, store: Store, run_id: str, message: str | None) -> str | None:
        """A preempted run goes back in its queue, same launch, with its resume count up, until
        the queue's max_resumes (default 5; 0 turns it off)."""
        run = store.runs.get(run_id)
        item = store.items.get(run.item_id)
        try:
            queue = store.queues.get(item.queue)
        except BadInput:
            return message  # the queue was deleted meanwhile
        limit = queue.config.get("max_resumes", DEFAULT_MAX_RESUMES)
        reason = message or "preempted"
        if item.resume_count >= limit:
            note = (
                f"{reason}; not requeued: resumed {item.resume_count} time(s), max_resumes {limit}"
            )
        else:
            new_item = store.items.enqueue_again(
                item,
                queue.id,
                resume_count=item.resume_count + 1,
                # The same attempt of the same launch, resumed: its retries count on from it,
                # and a follower finds it among the launch's items.
                attempt=item.attempt,
            )
            resume = item.resume_count + 1
            note = f"{reason}; requeued as item {new_item} (resume {resume} of {limit})"
        store.runs.set_message(run_id, note)
        return note


def _agent_alive(record: AgentRecord) -> bool:
    if record.hostname == socket.gethostname():
        return procinfo.is_alive(record.pid, record.pid_start_time)
    # Another host shares the file: trust its heartbeat.
    return time.time() - record.heartbeat_at < 3 * HEARTBEAT_SECONDS

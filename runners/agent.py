"""The launch agent: takes queue items in order and hands each to its queue's runner.

One class, embedded (a thread of the TUI) or headless (`launchbay agent`). It is event-driven:
it sleeps in `select` on (a) a self-pipe that in-process writers and its own run threads poke,
(b) an inotify watch on the database file, so other processes' writes wake it, and (c) the next
timer (heartbeat, lease sweep). There is no fixed sleep between dispatches.

Threads: the agent thread owns the store connection and makes every state change; each live
run has a thread that submits it and then blocks in `runner.wait`, posting what it sees back to
the agent thread. A restarted agent re-adopts the live runs of agents that died.
"""

import os
import queue as queue_module
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from store import BadInput, IllegalTransition, JobVersion, Queue, Run, RunState, Stage, Store
from store.agents import AgentRecord
from store.runs import new_run_id

from . import procinfo
from .changes import ChangeListener
from .launching import check_still_allowed
from .logfile import open_append
from .protocol import Handle, Runner, RunnerError, RunStatus, SubmitContext
from .registry import get_runner
from .rendering import render_spec
from .wakeup import Waker
from .workers import DaemonPool

HEARTBEAT_SECONDS = 10.0
SWEEP_SECONDS = 15.0  # release expired leases, adopt runs of agents that died
WAIT_SLICE_SECONDS = 30.0  # a run thread re-checks that the agent still runs this often
DEFAULT_STOP_GRACE = 10.0
DEFAULT_MAX_RESUMES = 5  # a preempted run is requeued this often unless the queue says otherwise


@dataclass
class LiveRun:
    """A run this agent is following."""

    run_id: str
    item_id: int
    runner: Runner
    spec: dict
    handle: Handle | None = None
    cancel_sent: bool = False
    stop_wanted: bool = False


@dataclass(frozen=True)
class _Submitted:
    run_id: str
    handle: Handle


@dataclass(frozen=True)
class _StatusSeen:
    run_id: str
    status: RunStatus


class Agent:
    """Serves queues (all of them when `queues` is empty) with at most `max_jobs` live runs
    (-1: no limit). `run()` blocks until `stop()` or, with `until_empty`, until its queues have
    nothing dispatchable and no live runs."""

    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        queues: list[str] | None = None,
        max_jobs: int = 1,
        until_empty: bool = False,
        report: Callable[[str], None] | None = None,
        environ: Mapping[str, str] | None = None,
        lease_seconds: float = 60.0,
    ):
        if max_jobs == 0 or max_jobs < -1:
            raise BadInput("--max-jobs", f"{max_jobs}; expected a positive number or -1")
        self.db_path = db_path
        self.queue_names = list(queues or [])
        self.max_jobs = max_jobs
        self.until_empty = until_empty
        self.lease_seconds = lease_seconds
        self.environ = os.environ if environ is None else environ
        self.id = "ag-" + new_run_id()
        self.live: dict[str, LiveRun] = {}
        self.last_error: str | None = None
        self._report = report or (lambda message: None)
        self._inbox: queue_module.SimpleQueue = queue_module.SimpleQueue()
        self._waker = Waker()
        self._stop = threading.Event()
        self._round_robin: list[str] = []
        self._pool = DaemonPool("launchbay-run")

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask `run()` to return. Live runs keep running; the next agent re-adopts them."""
        self._stop.set()
        self._waker.wake()

    def run(self) -> None:
        store = Store.open(self.db_path)
        try:
            self._check_queue_names(store)
        except BadInput:
            store.close()
            raise
        changes = ChangeListener(store, self._waker)
        store.agents.register(
            self.id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            pid_start_time=procinfo.start_time(os.getpid()),
            queues=self.queue_names,
            max_jobs=self.max_jobs,
        )
        served = ", ".join(self.queue_names) or "all queues"
        limit = "unlimited" if self.max_jobs == -1 else str(self.max_jobs)
        self._report(f"agent {self.id} serving {served} (max jobs {limit})")
        next_heartbeat = next_sweep = 0.0
        try:
            while not self._stop.is_set():
                # Before the pass: a commit by another process during the pass is still news.
                changes.mark_seen()
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(store)
                    next_sweep = now + SWEEP_SECONDS
                if now >= next_heartbeat:
                    store.agents.heartbeat(self.id)
                    next_heartbeat = now + HEARTBEAT_SECONDS
                self._apply_inbox(store)
                self._send_stop_requests(store)
                self._dispatch(store)
                if self.until_empty and not self.live and not self._dispatchable(store):
                    break
                changes.wait(min(next_sweep, next_heartbeat))
        finally:
            changes.close()
            store.agents.mark_stopped(self.id)
            if self.live:
                self._report(
                    f"agent stopping with {len(self.live)} live run(s); they keep"
                    " running and the next agent re-adopts them"
                )
            store.close()

    def _check_queue_names(self, store: Store) -> None:
        for name in self.queue_names:
            store.queues.get(name)  # raises NotFound naming the known queues

    # -- dispatch ----------------------------------------------------------------------------

    def _served_queues(self, store: Store) -> list[Queue]:
        queues = store.queues.list()
        if self.queue_names:
            queues = [q for q in queues if q.name in self.queue_names]
        # Round robin: keep the agent's order, append new queues, drop deleted ones.
        names = {q.name for q in queues}
        self._round_robin = [n for n in self._round_robin if n in names]
        self._round_robin += sorted(names - set(self._round_robin))
        by_name = {q.name: q for q in queues}
        return [by_name[name] for name in self._round_robin]

    def _has_capacity(self) -> bool:
        return self.max_jobs == -1 or len(self.live) < self.max_jobs

    def _dispatch(self, store: Store) -> None:
        while self._has_capacity():
            launched = False
            for queue in self._served_queues(store):
                if queue.paused:
                    continue
                item = store.items.lease_next(queue, self.id, self.lease_seconds)
                if item is None:
                    continue
                # The queue that gave an item goes to the back of the line.
                self._round_robin.remove(queue.name)
                self._round_robin.append(queue.name)
                self._launch(store, queue, item)
                launched = True
                break
            if not launched:
                return

    def _dispatchable(self, store: Store) -> bool:
        ids = [q.id for q in self._served_queues(store) if not q.paused]
        return bool(ids) and store.items.any_pending(ids)

    def _launch(self, store: Store, queue: Queue, item) -> None:
        try:
            job = store.jobs.get_version(item.job_version_id)
            runner = get_runner(queue.resource)
        except BadInput as exc:
            self._fail_item(store, item.id, Stage.AGENT, exc.message)
            return
        try:
            check_still_allowed(queue, item.launch)
        except BadInput as exc:
            self._fail_item(
                store, item.id, Stage.AGENT, f"the queue's config no longer allows it: {exc}"
            )
            return
        except Exception as exc:  # a bug: this item fails, the agent goes on
            self._fail_item(
                store, item.id, Stage.AGENT, f"could not check it against the queue: {exc!r}"
            )
            return
        for _ in range(5):  # a run id collision is astronomically rare; retry all the same
            run_id = new_run_id()
            run_dir = store.run_dir(run_id)
            try:
                spec = render_spec(
                    job=job,
                    queue=queue.name,
                    resource=queue.resource,
                    launch=item.launch,
                    run_id=run_id,
                    item_id=item.id,
                    config_file=runner.config_file_path(run_dir),
                    environ=self.environ,
                    resume_count=item.resume_count,
                )
            except BadInput as exc:
                self._fail_item(store, item.id, Stage.AGENT, str(exc))
                return
            try:
                if not store.items.claim_with_run(item, self.id, run_id, queue.resource, spec):
                    return  # cancelled, or our lease expired and someone else has it
                break
            except sqlite3.IntegrityError:
                continue
        else:
            self._fail_item(store, item.id, Stage.AGENT, "could not allocate a run id")
            return
        live = LiveRun(run_id=run_id, item_id=item.id, runner=runner, spec=spec)
        self.live[run_id] = live
        self._report(f"run {run_id}: {job.ref} on {queue.name} claimed item {item.id}")
        self._pool.submit(self._submit_and_watch, live, job, store)

    def _fail_item(self, store: Store, item_id: int, stage: Stage, message: str) -> None:
        store.items.fail(item_id, stage, message)
        self._record_error(store, f"item {item_id} failed at {stage}: {message}")

    def _record_error(self, store: Store, message: str) -> None:
        self.last_error = message
        store.agents.record_error(self.id, message)
        self._report(message)

    # -- run threads (no store access here: they post to the agent thread) -----------------

    def _submit_and_watch(self, live: LiveRun, job: JobVersion, store: Store) -> None:
        run_dir = store.run_dir(live.run_id)
        log_path = store.run_log_path(live.run_id)
        try:
            run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            artifact = job.source.get("artifact")
            ctx = SubmitContext(
                run_id=live.run_id,
                run_dir=run_dir,
                log_path=log_path,
                spec=live.spec,
                job=job,
                artifact_path=store.artifacts.path_for(artifact) if artifact else None,
                agent_env=self.environ,
            )
            handle = live.runner.submit(ctx)
        except RunnerError as exc:
            self._post_failure(live, log_path, exc.stage, exc.message)
            return
        except Exception as exc:  # an SDK or OS error: still a failed run, never a dead agent
            self._post_failure(live, log_path, Stage.RUN, f"{type(exc).__name__}: {exc}")
            return
        self._post(_Submitted(live.run_id, handle))
        self._watch(live, handle)

    def _watch(self, live: LiveRun, handle: Handle) -> None:
        seen: tuple | None = None
        while not self._stop.is_set():
            try:
                status = live.runner.wait(handle, WAIT_SLICE_SECONDS)
            except RunnerError as exc:
                status = RunStatus(
                    RunState.FAILED, exc.message, error_stage=exc.stage, error_message=exc.message
                )
            except Exception as exc:
                status = RunStatus(
                    RunState.FAILED,
                    f"{type(exc).__name__}: {exc}",
                    error_stage=Stage.RUN,
                    error_message=str(exc),
                )
            # A new message is news too: "Unschedulable: 0/3 nodes…" while still starting.
            if (status.state, status.message) != seen or status.state.is_terminal():
                seen = (status.state, status.message)
                self._post(_StatusSeen(live.run_id, status))
            if status.state.is_terminal():
                return

    def _post_failure(self, live: LiveRun, log_path: Path, stage: Stage, message: str) -> None:
        try:
            fd = open_append(log_path)
            os.write(fd, f"[launchbay] {stage} failed: {message}\n".encode())
            os.close(fd)
        except OSError:
            pass
        self._post(
            _StatusSeen(
                live.run_id,
                RunStatus(RunState.FAILED, message, error_stage=stage, error_message=message),
            )
        )

    def _post(self, message) -> None:
        self._inbox.put(message)
        self._waker.wake()

    # -- applying what run threads saw --------------------------------------------------------

    def _apply_inbox(self, store: Store) -> None:
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue_module.Empty:
                return
            live = self.live.get(message.run_id)
            if live is None:
                continue
            if isinstance(message, _Submitted):
                live.handle = message.handle
                submitted = RunStatus(live.runner.submitted_state, "submitted")
                self._apply_status(store, live, submitted, handle=message.handle)
                if live.stop_wanted:
                    self._cancel(live)
            else:
                self._apply_status(store, live, message.status)

    def _apply_status(
        self, store: Store, live: LiveRun, status: RunStatus, handle: Handle | None = None
    ) -> None:
        run = store.runs.get(live.run_id)
        target, message = status.state, status.message
        moves = (
            not run.state.is_terminal()
            and target != run.state
            and not (target is RunState.RUNNING and run.state is RunState.STOPPING)
        )
        if handle is not None and not moves:
            store.runs.set_handle(live.run_id, handle)  # else the transition records it
        if run.state.is_terminal():
            self.live.pop(live.run_id, None)
            return
        # A run being stopped ends stopped, whatever ended it: a preemption that comes after
        # the cancel must not requeue it.
        if status.state.is_terminal() and run.state is RunState.STOPPING:
            target = RunState.STOPPED
            message = f"stopped on request ({status.message})" if status.message else "stopped"
        if target == run.state:
            if message and message != run.message:
                store.runs.set_message(live.run_id, message)
            return
        if target is RunState.RUNNING and run.state is RunState.STOPPING:
            return  # still shutting down
        if target is RunState.STARTING:
            # A remote job back in a queue (a pod rescheduled): the run never goes back.
            if message and message != run.message:
                store.runs.set_message(live.run_id, message)
            return
        failed = target in (RunState.FAILED, RunState.CRASHED)
        try:
            # One transaction: nobody sees a preempted run that is not yet requeued.
            with store.transaction():
                store.runs.transition(
                    live.run_id,
                    target,
                    message,
                    exit_code=status.exit_code,
                    error_stage=status.error_stage if failed else None,
                    error_message=status.error_message if failed else None,
                    handle=handle,
                )
                if target is RunState.PREEMPTED:
                    message = self._requeue_preempted(store, live.run_id, message)
        except IllegalTransition as exc:
            self._record_error(store, str(exc))
        if target.is_terminal():
            self.live.pop(live.run_id, None)
            self._report(
                f"run {live.run_id}: {target.value}" + (f" ({message})" if message else "")
            )

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
            new_item = store.items.enqueue(
                queue.id,
                item.job_version_id,
                item.job,
                item.launch,
                item.priority,
                resume_count=item.resume_count + 1,
            )
            resume = item.resume_count + 1
            note = f"{reason}; requeued as item {new_item} (resume {resume} of {limit})"
        store.runs.set_message(run_id, note)
        return note

    # -- stopping runs -----------------------------------------------------------------------

    def _send_stop_requests(self, store: Store) -> None:
        if not self.live:
            return
        for run in store.runs.list(agent_id=self.id, states=[RunState.STOPPING.value]):
            live = self.live.get(run.id)
            if live is None or live.cancel_sent:
                continue
            live.stop_wanted = True
            if live.handle is not None:
                self._cancel(live, run)

    def _cancel(self, live: LiveRun, run: Run | None = None) -> None:
        grace = (live.spec.get("resource_args") or {}).get("stop_grace_seconds", DEFAULT_STOP_GRACE)
        if run is not None and run.stop_requested_at is not None:
            # After an agent restart, the grace counts from the original request.
            grace = max(0.0, grace - (time.time() - run.stop_requested_at))
        live.cancel_sent = True
        try:
            live.runner.cancel(live.handle, grace)
        except Exception as exc:
            live.cancel_sent = False  # asked again on the next pass
            self._report(f"run {live.run_id}: cancel failed, will retry: {exc}")

    # -- recovery ----------------------------------------------------------------------------

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
        try:
            handle = run.handle or runner.find(run.id, store.run_dir(run.id))
            status = runner.status(handle) if handle is not None else None
        except Exception as exc:  # the target unreachable for now: ours, tried again next sweep
            self._record_error(
                store, f"run {run.id}: cannot re-adopt it yet ({exc}); trying again in a while"
            )
            return
        live = LiveRun(
            run_id=run.id, item_id=run.item_id, runner=runner, spec=run.spec, handle=handle
        )
        self.live[run.id] = live
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


def _agent_alive(record: AgentRecord) -> bool:
    if record.hostname == socket.gethostname():
        return procinfo.is_alive(record.pid, record.pid_start_time)
    # Another host shares the file: trust its heartbeat.
    return time.time() - record.heartbeat_at < 3 * HEARTBEAT_SECONDS

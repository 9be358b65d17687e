"""The launch agent: takes queue items in order and hands each to its queue's runner.

One class, embedded (a thread of the TUI) or headless (`launchbay agent`). It is event-driven:
it sleeps in `select` on a self-pipe that in-process writers and its own run threads poke, an
inotify watch on the database file (other processes' writes wake it) and the next timer.

Threads: the agent thread owns the store connection and makes every state change; each live
run has a thread that submits it and then blocks in `runner.wait`, posting what it sees back to
the agent thread (runs.py). A restarted agent re-adopts the live runs of agents that died
(recovery.py).

Nothing one item or one fault does ends the agent: an item that can't be prepared fails at
stage `agent`; a store that can't be written (a lock held past the busy timeout, a full disk)
is retried with backoff, said in the report and in the agent's last error.
"""

import collections
import os
import queue as queue_module
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from runners.agent.changes import ChangeListener
from runners.agent.crashpoints import crash_point
from runners.agent.faults import StoreFaults
from runners.agent.gpu_dispatch import GpuDispatch
from runners.agent.metric_ingest import MetricIngest
from runners.agent.notifying import Notifying
from runners.agent.recovery import HEARTBEAT_SECONDS, Recovery
from runners.agent.retries import Retries
from runners.agent.runs import LiveRun, RunThreads
from runners.agent.status_apply import StatusApply
from runners.agent.workers import DaemonPool
from runners.launch.rendering import render_spec
from runners.launch.request import check_still_allowed
from runners.protocol import Capability
from runners.registry import get_runner
from runners.sweeps.controller import SweepControl
from runners.system import procinfo
from runners.system.wakeup import Waker
from store import BadInput, Queue, RunState, Stage, Store
from store.errors import passing_fault
from store.runs import new_run_id

SWEEP_SECONDS = 15.0  # release expired leases, adopt runs of agents that died


class Agent(
    RunThreads,
    StatusApply,
    Recovery,
    Retries,
    Notifying,
    StoreFaults,
    GpuDispatch,
    MetricIngest,
    SweepControl,
):
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
        # What run threads posted and the store has not taken yet (kept across a store fault).
        self._unapplied: collections.deque = collections.deque()
        self._faults = 0  # store faults in a row
        self._next_heartbeat = self._next_sweep = 0.0

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask `run()` to return. Live runs keep running; the next agent re-adopts them."""
        self._stop.set()
        self._waker.wake()

    def run(self) -> None:
        """Serve the queues until stopped (or, with until_empty, until nothing is left)."""
        try:
            self._run()
        finally:
            self._waker.close()  # an agent is run once: its self-pipe goes with it

    def _run(self) -> None:
        store = self._past_faults(None, lambda: Store.open(self.db_path))
        if store is None:
            return  # stopped while the store was unusable
        try:
            self._check_queue_names(store)
        except BadInput:
            store.close()
            raise
        changes = ChangeListener(store, self._waker)
        try:
            if self._past_faults(store, lambda: self._register(store)):
                self._serve(store, changes)
        finally:
            changes.close()
            self._finish_notifications(store)
            self._say_stopped(store)
            store.close()

    def _register(self, store: Store) -> bool:
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
        return True

    def _serve(self, store: Store, changes: ChangeListener) -> None:
        while not self._stop.is_set():
            try:
                deadline = self._one_pass(store, changes)
            except Exception as exc:
                reason = passing_fault(exc)
                if reason is None:
                    raise  # a bug: not swallowed
                self._back_off(store, reason)
                continue
            if deadline is None:
                return
            changes.wait(deadline)

    def _one_pass(self, store: Store, changes: ChangeListener) -> float | None:
        """Sweep, heartbeat, apply, dispatch; when to wake next (None: until_empty and done)."""
        # Before the pass: a commit by another process during the pass is still news.
        changes.mark_seen()
        if self._faults:
            # A lease taken just before the fault, its claim refused: back in line at once.
            store.items.release_leases_of([self.id])
        now = time.monotonic()
        if now >= self._next_sweep:
            self._sweep(store)
            self._next_sweep = now + SWEEP_SECONDS
        if now >= self._next_heartbeat:
            store.agents.heartbeat(self.id)
            self._next_heartbeat = now + HEARTBEAT_SECONDS
        self._apply_inbox(store)
        timers = min(self._gpu_housekeeping(store), self._ingest_metrics(store))
        served = self._served_queues(store)  # read once for the pass (dispatch keeps its own)
        sweeping = self._drive_sweeps(store, served)  # after ingest: prunes on the newest steps
        self._send_stop_requests(store)
        self._dispatch(store)
        done = self.until_empty and not (self.live or sweeping or self._dispatchable(store, served))
        if self._faults:
            self._recovered(store)  # a whole pass went through, a heartbeat written
        if done:
            return None
        timers = min(timers, self._gpu_wake_at(), self._retry_wake_at(store, served))
        return min(self._next_sweep, self._next_heartbeat, timers)

    def _say_stopped(self, store: Store) -> None:
        try:
            store.agents.mark_stopped(self.id)
        except Exception as exc:
            if passing_fault(exc) is None:
                raise
            # Unmarked, the record still tells the next agent this pid is gone.
            self._report(f"agent stopping; could not record it ({passing_fault(exc)})")
        if self.live:
            self._report(
                f"agent stopping with {len(self.live)} live run(s); they keep"
                " running and the next agent re-adopts them"
            )

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
                picked = self._pick(store, queue)
                if picked is None:
                    continue
                item, gpus = picked
                # The queue that gave an item goes to the back of the line.
                self._round_robin.remove(queue.name)
                self._round_robin.append(queue.name)
                try:
                    self._launch(store, queue, item, gpus)
                except Exception as exc:
                    if passing_fault(exc) is not None:
                        raise  # the store's, not the item's: backed off and retried
                    self._fail_unlaunched(store, item.id, exc)
                launched = True
                break
            if not launched:
                return

    def _dispatchable(self, store: Store, served: list[Queue]) -> bool:
        ids = [q.id for q in served if not q.paused]
        return bool(ids) and store.items.any_pending(ids)

    def _launch(self, store: Store, queue: Queue, item, gpus: tuple = ()) -> None:
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
                    metrics_file=runner.metrics_file_path(run_dir),
                    environ=self.environ,
                    resume_count=item.resume_count,
                    attempt=item.attempt,
                )
            except BadInput as exc:
                self._fail_item(store, item.id, Stage.AGENT, str(exc))
                return
            if Capability.SHARES_GPUS in runner.capabilities:
                spec = runner.give_gpus(spec, gpus)
            try:
                if not store.items.claim_with_run(
                    item,
                    self.id,
                    run_id,
                    queue.resource,
                    spec,
                    gpus=[(gpu.key, gpu.index) for gpu in gpus],
                    time_limit=(spec.get("resource_args") or {}).get("time_limit"),
                ):
                    return  # cancelled, lease lost, or a GPU given away since we looked
                break
            except sqlite3.IntegrityError:
                continue
        else:
            self._fail_item(store, item.id, Stage.AGENT, "could not allocate a run id")
            return
        crash_point("agent-claimed")
        live = LiveRun(run_id=run_id, item_id=item.id, runner=runner, spec=spec)
        self.live[run_id] = live
        self._follow_metrics(run_id)
        self._report(f"run {run_id}: {job.ref} on {queue.name} claimed item {item.id}")
        self._pool.submit(self._submit_and_watch, live, job, store)

    def _fail_unlaunched(self, store: Store, item_id: int, exc: Exception) -> None:
        """Anything raised while preparing one item (a bug, a launch too deep to render) fails
        that item at stage `agent`, and its run if one was made; the agent goes on."""
        message = f"could not prepare it: {type(exc).__name__}: {exc}"
        run = store.runs.find_for_item(item_id)
        if run is not None and not run.state.is_terminal():
            self.live.pop(run.id, None)
            store.runs.transition(
                run.id, RunState.FAILED, message, error_stage=Stage.AGENT, error_message=message
            )  # which fails the item too
            self._record_error(store, f"item {item_id} failed at {Stage.AGENT}: {message}")
            return
        self._fail_item(store, item_id, Stage.AGENT, message)

    def _fail_item(self, store: Store, item_id: int, stage: Stage, message: str) -> None:
        store.items.fail(item_id, stage, message)
        self._record_error(store, f"item {item_id} failed at {stage}: {message}")

    def _record_error(self, store: Store, message: str) -> None:
        self.last_error = message
        store.agents.record_error(self.id, message)
        self._report(message)

"""The sweep controller, inside the agent (a mixin of `Agent`): each pass, for every sweep on the
queues this agent serves, it ends the trials whose runs ended (objective from the run's
metrics; a failed run is a failed trial, not a bad objective), asks the pruner about the new
steps of running trials (a pruned trial's run is stopped through the agent's stop path, with
"pruned at step N"), and enqueues new trials while fewer than `parallel` are in flight and
`run_cap` allows. The trials then wait in the queue's FIFO like any launch (its GPUs, limits
and max concurrency apply as usual).

What a controller holds in memory (the searcher, the pruner's view) is rebuilt from the store
when an agent starts, so a SIGKILL loses nothing: the store records each suggestion with its
queue item in one transaction (store/sweeps.py).
"""

from __future__ import annotations

import contextlib
import copy
import math

from runners.agent.crashpoints import crash_point
from runners.launch.rendering import deep_merge
from runners.launch.schema import build_run_config
from runners.sweeps.config import parse_sweep_config
from runners.sweeps.hyperband import HyperbandStopping
from runners.sweeps.search import grid_size, make_searcher, run_config_values
from store import BadInput, IllegalTransition, RunState, Store
from store.sweeps import Sweep, Trial

_ENDED_ITEMS = ("cancelled", "failed")


class SweepControl:
    """Agent mixin: `_drive_sweeps(store, served)` once a pass."""

    def _drive_sweeps(self, store: Store, served: list) -> bool:
        """Drive the sweeps of the `served` queues; whether a running one still has work
        (trials in flight or more to suggest), for `--until-empty`."""
        try:
            drivers = self._sweep_drivers
        except AttributeError:
            drivers = self._sweep_drivers = {}
        queue_ids = [queue.id for queue in served]
        sweeps = store.sweeps.list(queue_ids=queue_ids, active_only=True) if queue_ids else []
        busy = False
        for sweep in sweeps:
            driver = drivers.get(sweep.id)
            try:
                if driver is None:
                    driver = drivers[sweep.id] = SweepDriver(store, sweep, self._report)
                driver.ingesting = self._metric_runs()
                stepped = driver.step(store, sweep)
            except BadInput as exc:  # e.g. Optuna missing here: this sweep stops, not the agent
                drivers.pop(sweep.id, None)
                _settle(store, sweep.id, "stopped", f"the agent cannot run it: {exc}")
                self._record_error(store, f"sweep {sweep.id} stopped: {exc}")
                continue
            if not stepped:
                del drivers[sweep.id]  # out of step with the store: rebuilt next pass
                busy = True
                continue
            busy |= driver.busy
        for gone in set(drivers) - {sweep.id for sweep in sweeps}:
            del drivers[gone]
        return busy


def _settle(store: Store, sweep_id: str, state: str, message: str) -> None:
    """End a sweep, unless a user ended it first (stop races the last trial's end)."""
    with contextlib.suppress(BadInput):
        store.sweeps.set_state(sweep_id, state, message)


class SweepDriver:
    """One sweep's controller, as of the store when it was made."""

    def __init__(self, store: Store, sweep: Sweep, report):
        self.config = parse_sweep_config(sweep.config)
        self.report = report
        self.cap = min(self.config.run_cap or math.inf, grid_size(self.config))
        trials = store.sweeps.trials(sweep.id)
        job = store.jobs.get_version(sweep.job_version_id)
        self.schema = job.input_schema
        self.hyperband = (
            HyperbandStopping(self.config.hyperband, self.config.goal)
            if self.config.hyperband
            else None
        )
        self.seen_step: dict[int, int] = {}  # trial number → last metric step read
        curves = {}
        if self.config.pruner or self.hyperband:
            curves = {t.number: self._new_points(store, t) for t in trials if t.run_id}
        self.searcher = make_searcher(self.config, sweep.seed, trials, curves)
        self.known = len(trials)  # trials the searcher has seen suggested
        # Runs whose metrics this agent still reads (an ended run is read to its end first).
        self.ingesting: dict | set = set()
        for trial in trials:
            if trial.ended_at is None and curves.get(trial.number):
                self.searcher.should_prune(trial.number, curves[trial.number])  # re-reported
        self.busy = False

    def step(self, store: Store, sweep: Sweep) -> bool:
        """One pass; False when the store moved on without us (another agent added a trial)."""
        live = 0
        for trial in store.sweeps.trials(sweep.id, live_only=True):
            live += self._follow(store, sweep, trial)
        # What this driver knows: a trial another agent added since makes add_trial refuse,
        # and the driver is rebuilt from the store, so the search learns of it.
        number = self.known
        exhausted = number >= self.cap
        if sweep.state == "running":
            while live < sweep.parallel and number < self.cap:
                suggested = self.searcher.suggest(number)
                if suggested is None:
                    break
                params = run_config_values(self.config, suggested)
                try:
                    launch = self._launch_for(sweep, params)
                except BadInput as exc:
                    _settle(store, sweep.id, "stopped", f"trial {number}: {exc}")
                    self.report(f"sweep {sweep.id} stopped: trial {number}: {exc}")
                    return True
                item_id = store.sweeps.add_trial(sweep, number, params, suggested, launch)
                if item_id is None:
                    return False
                self.known += 1
                crash_point("sweep-enqueued")
                self.report(f"sweep {sweep.id}: trial {number} enqueued as item {item_id}")
                number += 1
                live += 1
            exhausted = number >= self.cap
            if live == 0 and exhausted:
                _settle(store, sweep.id, "finished", f"{number} trials")
                self.report(f"sweep {sweep.id} finished: {number} trials")
        self.busy = sweep.state == "running" and (live > 0 or not exhausted)
        return True

    def _launch_for(self, sweep: Sweep, params: dict) -> dict:
        """The trial's launch: the sweep's, its run config with the trial's values (checked
        against the job's schema), and the sweep's id for WANDB_SWEEP_ID."""
        launch = copy.deepcopy(sweep.launch)
        merged = deep_merge(launch.get("run_config") or {}, params)
        launch["run_config"] = build_run_config(self.schema, merged)
        launch["sweep_id"] = sweep.id
        return launch

    # -- one trial ---------------------------------------------------------------------------

    def _follow(self, store: Store, sweep: Sweep, trial: Trial) -> int:
        """End the trial if its run ended, else ask the pruner; 1 while it is in flight."""
        if trial.run_state is None:
            if trial.item_state in _ENDED_ITEMS:
                state = "stopped" if trial.item_state == "cancelled" else "failed"
                self._end(store, sweep, trial, state, None, f"its queue item {trial.item_state}")
                return 0
            return 1
        run_state = RunState(trial.run_state)
        if run_state.is_terminal() and trial.item_state in ("pending", "leased"):
            return 1  # requeued (preempted, or never started by an agent that died): goes on
        if not run_state.is_terminal():
            if run_state is RunState.RUNNING and trial.pruned_step is None:
                self._ask_pruner(store, sweep, trial)
            return 1
        if self.config.metric and trial.run_id in self.ingesting:
            return 1  # its last metrics are still being read: its objective is not known yet
        objective = self._objective(store, trial.run_id)
        if run_state is RunState.FINISHED:
            if self.config.metric and objective is None:
                missing = f"{self.config.metric} never reported"
                self._end(store, sweep, trial, "failed", None, missing)
            else:
                self._end(store, sweep, trial, "finished", objective, None)
        elif run_state is RunState.STOPPED and trial.pruned_step is not None:
            reason = f"pruned at step {trial.pruned_step}"
            store.runs.set_message(trial.run_id, reason)
            self._end(store, sweep, trial, "pruned", objective, reason)
        elif run_state is RunState.STOPPED:
            self._end(store, sweep, trial, "stopped", objective, "its run was stopped")
        else:
            run = store.runs.get(trial.run_id)
            why = run.error_message or run.message or run_state.value
            self._end(store, sweep, trial, "failed", None, f"its run {run_state.value}: {why}")
        return 0

    def _end(self, store, sweep, trial, state, objective, message) -> None:
        store.sweeps.end_trial(sweep.id, trial.number, state, objective=objective, message=message)
        self.searcher.told(trial.number, state, objective)
        shown = "" if objective is None else f" ({self.config.metric} {objective:g})"
        self.report(f"sweep {sweep.id}: trial {trial.number} {state}{shown}")

    def _objective(self, store: Store, run_id: str | None) -> float | None:
        """The run's last value of the metric (W&B's summary value)."""
        if not self.config.metric or run_id is None:
            return None
        summary = store.metrics.summaries([run_id], [self.config.metric]).get(run_id, {})
        found = summary.get(self.config.metric)
        return None if found is None or math.isnan(found.last) else found.last

    def _new_points(self, store: Store, trial: Trial) -> list[tuple[int, float]]:
        last = self.seen_step.get(trial.number, -1)
        points = store.metrics.points(trial.run_id, self.config.metric, first_step=last + 1)
        pairs = [(p.step, p.value) for p in points]
        if pairs:
            self.seen_step[trial.number] = pairs[-1][0]
        if self.hyperband:
            self.hyperband.record(trial.number, pairs)
        return pairs

    def _ask_pruner(self, store: Store, sweep: Sweep, trial: Trial) -> None:
        if not (self.config.pruner or self.hyperband):
            return
        points = self._new_points(store, trial)
        if not points:
            return
        if self.hyperband:
            step = self.hyperband.should_stop(trial.number)
        else:
            step = self.searcher.should_prune(trial.number, points)
        if step is None:
            return
        try:
            with store.transaction():
                store.sweeps.mark_pruned(sweep.id, trial.number, step)
                store.runs.request_stop(trial.run_id, f"pruned at step {step}")
        except IllegalTransition:
            return  # it ended meanwhile: the next pass ends the trial as its run did
        self.report(f"sweep {sweep.id}: trial {trial.number} pruned at step {step}")

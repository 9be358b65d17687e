"""Optuna behind a sweep: TPE for `bayes`, or the sampler and pruner `optuna:` names.

The study lives in memory and is rebuilt from the store each time a controller starts: ended
trials are added as they ended (COMPLETE with their objective, FAIL, PRUNED with their curve),
and trials still running are asked again with their recorded suggestions (enqueue_trial), so
they are RUNNING in the study, as they were. Why not an Optuna RDB storage in the same
database: Optuna writes through SQLAlchemy on a connection of its own, so its trial and our
queue item could not be one transaction — a SIGKILL between the two would lose a trial or
suggest one twice. The store is the one truth; the study is a cache of it.

Imported only when a sweep needs Optuna (`pip install launchbay[sweeps]`).
"""

from __future__ import annotations

import math
from typing import Any

from store import BadInput

try:
    import optuna
except ImportError:  # said where a sweep needs it
    optuna = None


def require_optuna(field: str) -> None:
    if optuna is None:
        raise BadInput(field, "needs Optuna; install it with: pip install 'launchbay[sweeps]'")


def make_sampler(named: tuple[str, dict] | None, seed: int, field: str = "optuna.sampler"):
    require_optuna(field)
    name, kwargs = named or ("tpe", {})
    classes = {
        "tpe": optuna.samplers.TPESampler,
        "random": optuna.samplers.RandomSampler,
        "cmaes": optuna.samplers.CmaEsSampler,
        "qmc": optuna.samplers.QMCSampler,
        "gp": optuna.samplers.GPSampler,
    }
    return _build(classes[name], {"seed": seed, **kwargs}, field)


def make_pruner(named: tuple[str, dict], field: str = "optuna.pruner"):
    require_optuna(field)
    name, kwargs = named
    classes = {
        "median": optuna.pruners.MedianPruner,
        "percentile": optuna.pruners.PercentilePruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
    }
    return _build(classes[name], kwargs, field)


def _build(cls, kwargs: dict, field: str):
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise BadInput(field, f"{exc}; expected the keyword arguments of {cls.__name__}") from None


class OptunaSearch:
    """Suggestions from an Optuna sampler; pruning decisions from its pruner."""

    def __init__(self, config, seed: int, trials: list, curves: dict, base=None):
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.config = config
        self.base = base  # grid or random: they suggest, the study follows (for the pruner)
        self.distributions = {
            p.path: d for p in config.params if (d := p.optuna_distribution()) is not None
        }
        pruner = make_pruner(config.pruner) if config.pruner else optuna.pruners.NopPruner()
        direction = "maximize" if config.goal == "maximize" else "minimize"
        self.study = optuna.create_study(
            sampler=make_sampler(config.sampler, seed), pruner=pruner, direction=direction
        )
        self.live: dict[int, Any] = {}  # trial number → the Optuna trial being run
        self.reported: dict[int, int] = {}  # trial number → last step reported
        for trial in trials:
            if trial.ended_at is None:
                self.study.enqueue_trial(self._suggested(trial.suggested))
                self.live[trial.number] = self.study.ask(self.distributions)
            else:
                self.study.add_trial(self._frozen(trial, curves.get(trial.number, [])))

    def _suggested(self, suggested: dict) -> dict:
        return {path: suggested[path] for path in self.distributions if path in suggested}

    def _frozen(self, trial, curve: list):
        state = {
            "finished": optuna.trial.TrialState.COMPLETE,
            "pruned": optuna.trial.TrialState.PRUNED,
        }.get(trial.state, optuna.trial.TrialState.FAIL)
        if state is optuna.trial.TrialState.COMPLETE and not _finite(trial.objective):
            state = optuna.trial.TrialState.FAIL
        return optuna.trial.create_trial(
            state=state,
            value=trial.objective if state is optuna.trial.TrialState.COMPLETE else None,
            params=self._suggested(trial.suggested),
            distributions=self.distributions,
            intermediate_values={step: v for step, v in curve if _finite(v)},
        )

    def suggest(self, number: int) -> dict | None:
        """Suggestions for trial `number`: {path: value in the searcher's space}."""
        if self.base is not None:
            suggested = self.base.suggest(number)
            if suggested is None:
                return None
            self.study.enqueue_trial(self._suggested(suggested))
        trial = self.study.ask(self.distributions)
        self.live[number] = trial
        params = self.config.params
        fixed = {p.path: p.spec["value"] for p in params if p.distribution == "constant"}
        return {**trial.params, **fixed}

    def told(self, number: int, state: str, objective: float | None) -> None:
        trial = self.live.pop(number, None)
        self.reported.pop(number, None)
        if trial is None:
            return
        states = optuna.trial.TrialState
        if state == "finished" and _finite(objective):
            self.study.tell(trial, objective)
        elif state == "pruned":
            self.study.tell(trial, state=states.PRUNED)
        else:  # failed, stopped: no objective, and no bad one imputed
            self.study.tell(trial, state=states.FAIL)

    def should_prune(self, number: int, points: list[tuple[int, float]]) -> int | None:
        """Report the trial's new (step, value) points; the step it is pruned at, or None."""
        trial = self.live.get(number)
        if trial is None or self.config.pruner is None:
            return None
        last = self.reported.get(number, -1)
        reported = False
        for step, value in points:
            if step > last and _finite(value):
                trial.report(value, step)
                last, reported = step, True
        self.reported[number] = last
        if reported and trial.should_prune():
            return last
        return None


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)

"""Searchers: what trial `number` of a sweep tries.

Grid and random are functions of the trial number (the nth combination; draws from a
generator seeded with the sweep's seed and the number), so a restarted agent suggests exactly
what the dead one would have, with no state to rebuild. Bayes and the `optuna:` samplers
learn from ended trials (optuna_search.py).
"""

from __future__ import annotations

import math
import random

from runners.sweeps.config import SweepConfig


class GridSearch:
    """Every combination once, in the order of the config (the last parameter fastest)."""

    def __init__(self, config: SweepConfig):
        self.params = config.params
        self.axes = [p.grid_values() for p in config.params]
        self.size = math.prod(len(axis) for axis in self.axes)

    def suggest(self, number: int) -> dict | None:
        if number >= self.size:
            return None
        indices = []
        for axis in reversed(self.axes):
            number, index = divmod(number, len(axis))
            indices.append(index)
        picked = zip(self.params, reversed(indices), self.axes, strict=True)
        # Categorical values are suggested by index, like the random and Optuna searchers.
        return {
            p.path: (index if p.distribution.startswith("categorical") else axis[index])
            for p, index, axis in picked
        }

    def told(self, number: int, state: str, objective: float | None) -> None:
        pass

    def should_prune(self, number: int, points) -> int | None:
        return None


class RandomSearch(GridSearch):
    """Independent draws; the same seed gives the same trials."""

    def __init__(self, config: SweepConfig, seed: int):
        self.params = config.params
        self.seed = seed
        self.size = math.inf

    def suggest(self, number: int) -> dict | None:
        rng = random.Random(f"{self.seed}:{number}")
        return {p.path: p.draw(rng) for p in self.params}


def make_searcher(config: SweepConfig, seed: int, trials: list, curves: dict | None = None):
    """The searcher for a sweep, given its trials so far and their metric's (step, value)
    points by trial number (an Optuna study is rebuilt from them). Grid and random keep their
    own suggestions when an Optuna pruner is asked for: the study only follows them."""
    base = None
    if config.method == "grid":
        base = GridSearch(config)
    elif config.method == "random" and config.sampler is None:
        base = RandomSearch(config, seed)
    if config.uses_optuna:
        from runners.sweeps.optuna_search import OptunaSearch

        return OptunaSearch(config, seed, trials, curves or {}, base)
    return base


def grid_size(config: SweepConfig) -> float:
    if config.method != "grid":
        return math.inf
    return GridSearch(config).size


def run_config_values(config: SweepConfig, suggested: dict) -> dict:
    """The nested run config values of a suggestion ({"optimizer": {"lr": 0.1}})."""
    values: dict = {}
    for param in config.params:
        node = values
        *parents, leaf = param.path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = param.value_of(suggested[param.path])
    return values

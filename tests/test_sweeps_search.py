"""The searchers and the stopping rule, in-process against the objective function itself:
grid covers every combination once, random is reproducible from a seed and stays in bounds,
bayes (TPE) beats random on a noisy quadratic with the same budget and seeds, W&B's hyperband
stops the runs W&B's controller stops, and an Optuna study rebuilt from recorded trials holds
them as they were."""

import itertools
import math
import random
import statistics
from types import SimpleNamespace

from runners.sweeps.config import parse_sweep_config
from runners.sweeps.hyperband import HyperbandStopping
from runners.sweeps.params import DISTRIBUTIONS
from runners.sweeps.search import GridSearch, RandomSearch, make_searcher, run_config_values


def test_grid_covers_every_combination_once_nested_and_ranged_parameters_too():
    config = parse_sweep_config(
        {
            "method": "grid",
            "parameters": {
                "opt": {"values": ["adam", {"name": "sgd", "momentum": 0.9}]},
                "layers": {"distribution": "int_uniform", "min": 1, "max": 3},
                "model": {"parameters": {"width": {"distribution": "q_uniform", "min": 8,
                                                   "max": 32, "q": 8}}},
                "epochs": {"value": 5},
            },
        }
    )  # fmt: skip
    grid = GridSearch(config)
    assert grid.size == 2 * 3 * 4
    seen = [run_config_values(config, grid.suggest(n)) for n in range(grid.size)]
    assert grid.suggest(grid.size) is None
    expected = [
        {"opt": o, "layers": n, "model": {"width": w}, "epochs": 5}
        for o, n, w in itertools.product(["adam", {"name": "sgd", "momentum": 0.9}], [1, 2, 3],
                                         [8, 16, 24, 32])
    ]  # fmt: skip
    assert seen == expected


ALL_DISTRIBUTIONS = {
    "constant": {"value": 3},
    "categorical": {"values": [1, 2, 3]},
    "categorical_w_probabilities": {"values": ["a", "b"], "probabilities": [0.0, 1.0]},
    "int_uniform": {"min": -2, "max": 2},
    "uniform": {"min": -1.5, "max": 1.5},
    "q_uniform": {"min": 0, "max": 10, "q": 2},
    "log_uniform": {"min": -3.0, "max": 0.0},
    "log_uniform_values": {"min": 0.001, "max": 0.1},
    "q_log_uniform": {"min": 0.0, "max": 3.0, "q": 1},
    "q_log_uniform_values": {"min": 32, "max": 256, "q": 8},
    "inv_log_uniform": {"min": 0.0, "max": 2.0},
    "inv_log_uniform_values": {"min": 0.5, "max": 4.0},
    "normal": {"mu": 0.0, "sigma": 1.0},
    "q_normal": {"mu": 10.0, "sigma": 2.0, "q": 1},
    "log_normal": {"mu": 0.0, "sigma": 0.5},
    "q_log_normal": {"mu": 1.0, "sigma": 0.5, "q": 1},
    "beta": {"a": 2, "b": 2},
    "q_beta": {"a": 2, "b": 2, "q": 0.25},
}


def test_random_is_reproducible_from_its_seed_and_every_distribution_stays_in_its_bounds():
    assert set(ALL_DISTRIBUTIONS) == set(DISTRIBUTIONS)
    parameters = {name: {"distribution": name, **spec} for name, spec in ALL_DISTRIBUTIONS.items()}
    config = parse_sweep_config({"method": "random", "parameters": parameters})
    first = [RandomSearch(config, 11).suggest(n) for n in range(200)]
    again = [RandomSearch(config, 11).suggest(n) for n in range(200)]
    other = [RandomSearch(config, 12).suggest(n) for n in range(200)]
    assert first == again and first != other
    values = [run_config_values(config, s) for s in first]
    for param in config.params:
        drawn = [v[param.path] for v in values]
        bounds = param.bounds()
        if bounds is not None:
            low, high = bounds
            assert all(low - 1e-9 <= x <= high + 1e-9 for x in drawn), param.path
        if param.distribution.startswith("q_"):
            q = param.spec["q"]
            assert all(abs(x / q - round(x / q)) < 1e-9 for x in drawn), param.path
    assert {v["categorical_w_probabilities"] for v in values} == {"b"}  # probability 0: never
    assert {v["int_uniform"] for v in values} == {-2, -1, 0, 1, 2}
    assert {v["constant"] for v in values} == {3}


QUADRATIC = {
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"min": -2.0, "max": 2.0}, "y": {"min": -2.0, "max": 2.0}},
}


def _best_found(method: str, seed: int, budget: int) -> float:
    config = parse_sweep_config({"method": method, **QUADRATIC})
    searcher = make_searcher(config, seed, [])
    noise = random.Random(seed)
    best = math.inf
    for number in range(budget):
        p = searcher.suggest(number)
        loss = (p["x"] - 0.3) ** 2 + (p["y"] + 0.2) ** 2 + noise.gauss(0, 0.01)
        searcher.told(number, "finished", loss)
        best = min(best, loss)
    return best


def test_bayes_finds_a_better_best_than_random_with_the_same_budget_and_seeds():
    # Seeded samplers and seeded noise: the same numbers on every run, not a coin toss.
    random_best = [_best_found("random", seed, 30) for seed in range(10)]
    bayes_best = [_best_found("bayes", seed, 30) for seed in range(10)]
    wins = sum(b < r for b, r in zip(bayes_best, random_best, strict=True))
    assert wins >= 8, (bayes_best, random_best)
    assert statistics.median(bayes_best) < statistics.median(random_best) / 2


def _history(number, values, stopper):
    stopper.record(number, list(enumerate(values)))


def test_hyperband_stops_the_runs_wandbs_controller_stops():
    # W&B's own example (sweeps' hyperband_stopping.py docstring): b and c are stopped.
    config = parse_sweep_config(
        {
            "method": "grid",
            "metric": {"name": "loss", "goal": "minimize"},
            "early_terminate": {"type": "hyperband", "max_iter": 5, "eta": 2, "s": 2},
            "parameters": {"a": {"values": [1, 2, 3]}},
        }
    )
    stopper = HyperbandStopping(config.hyperband, config.goal)
    assert stopper.bands == (1, 2)
    histories = {0: [10, 9], 1: [10, 10], 2: [10, 8, 8], 3: [10, 7, 7], 4: [10, 6, 6]}
    for number, values in histories.items():
        _history(number, values, stopper)
    assert [n for n in (1, 2, 3) if stopper.should_stop(n) is not None] == [1, 2]
    assert stopper.should_stop(2) == 2  # c passes band 1, not band 2


def test_maximize_reverses_hyperband():
    config = parse_sweep_config(
        {
            "method": "random",
            "metric": {"name": "acc", "goal": "maximize"},
            "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2},
            "parameters": {"a": {"values": [1]}},
        }
    )
    stopper = HyperbandStopping(config.hyperband, config.goal)
    for number, acc in enumerate([0.9, 0.8, 0.1]):
        _history(number, [0.0, acc], stopper)
    assert [n for n in range(3) if stopper.should_stop(n) is not None] == [2]


def test_an_optuna_study_rebuilt_from_recorded_trials_holds_them_as_they_ended():
    import optuna  # the `sweeps` extra, which scripts/test.sh installs

    config = parse_sweep_config({"method": "bayes", **QUADRATIC})

    def trial(number, state, objective=None, ended=True):
        suggested = {"x": number / 10, "y": -number / 10}
        return SimpleNamespace(
            number=number, state=state, objective=objective, suggested=suggested,
            ended_at=1.0 if ended else None,
        )  # fmt: skip

    recorded = [
        trial(0, "finished", 0.5),
        trial(1, "failed"),
        trial(2, "pruned"),
        trial(3, "finished", 0.25),
        trial(4, "running", ended=False),
    ]
    searcher = make_searcher(config, 1, recorded, {2: [(0, 3.0), (1, 2.0)]})
    states = [t.state.name for t in searcher.study.get_trials(deepcopy=False)]
    assert states == ["COMPLETE", "FAIL", "PRUNED", "COMPLETE", "RUNNING"]
    assert searcher.study.best_value == 0.25
    assert searcher.study.trials[2].intermediate_values == {0: 3.0, 1: 2.0}
    assert searcher.study.trials[4].params == {"x": 0.4, "y": -0.4}
    searcher.told(4, "finished", 0.1)
    assert searcher.study.best_value == 0.1
    assert searcher.study.trials[4].state is optuna.trial.TrialState.COMPLETE

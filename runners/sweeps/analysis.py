"""What a sweep's finished trials say: best-so-far, and how much each parameter explains.

Importance is the share of the objective's variance between groups of a parameter's values
(η², the correlation ratio): categorical values group as they are, numbers in quartiles. It is
a text view's estimate, for ranking parameters, not fANOVA.
"""

from __future__ import annotations

import statistics
from collections import defaultdict


def best_so_far(objectives: list[float], goal: str) -> list[float]:
    """The best objective up to each trial, in trial order."""
    pick = max if goal == "maximize" else min
    best: list[float] = []
    for value in objectives:
        best.append(value if not best else pick(best[-1], value))
    return best


def flat_params(params: dict, prefix: str = "") -> dict:
    """{"optimizer.lr": 0.1} from {"optimizer": {"lr": 0.1}}."""
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(flat_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def importance(trials: list[tuple[dict, float]]) -> dict[str, float]:
    """{parameter: share of the objective's variance it explains}, highest first, from
    (params, objective) pairs of finished trials."""
    if len(trials) < 3:
        return {}
    objectives = [objective for _, objective in trials]
    total = statistics.pvariance(objectives)
    if total == 0:
        return {}
    names = sorted({name for params, _ in trials for name in flat_params(params)})
    shares = {}
    for name in names:
        values = [flat_params(params).get(name) for params, _ in trials]
        groups: dict = defaultdict(list)
        for key, objective in zip(_grouped(values), objectives, strict=True):
            groups[key].append(objective)
        mean = statistics.fmean(objectives)
        between = sum(len(g) * (statistics.fmean(g) - mean) ** 2 for g in groups.values())
        shares[name] = between / (total * len(objectives))
    return dict(sorted(shares.items(), key=lambda item: -item[1]))


def _grouped(values: list) -> list:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) != len(values) or len(set(numbers)) <= 4:
        return [repr(v) for v in values]
    cuts = statistics.quantiles(numbers, n=4)
    return [sum(v > cut for cut in cuts) for v in numbers]


def best_first(sweep, trials: list) -> list:
    """Finished trials with an objective, best first (ties: the earlier), then the rest by
    number."""
    sign = -1 if (sweep.config.get("metric") or {}).get("goal") == "maximize" else 1
    scored = [t for t in trials if t.objective is not None and t.state == "finished"]
    rest = [t for t in trials if t not in scored]
    return sorted(scored, key=lambda t: (sign * t.objective, t.number)) + rest


def summary(sweep, trials: list) -> dict:
    """Counts by state, trials in flight, and the best trial (JSON), for list and describe."""
    ordered = best_first(sweep, trials)
    best = ordered[0] if ordered and ordered[0].objective is not None else None
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    return {
        "trial_count": len(trials),
        "live": sum(t.ended_at is None for t in trials),
        "states": counts,
        "best": None if best is None else best.to_json(),
    }

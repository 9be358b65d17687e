"""A sweep config in W&B's format, checked: method, metric, parameters (nested too),
early_terminate (hyperband), run_cap; plus launchbay's `optuna: {sampler, pruner}` and `seed`.

W&B's keys that name where a run goes or what it runs (program, command, project, entity, job,
image_uri, controller…) are accepted and ignored: here the job and the queue are given to
`sweep create`. Errors name the field: `parameters.lr.min: 1 is greater than max 0.1; …`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from runners.launch.documents import expect_mapping
from runners.launch.schema import check_value
from runners.sweeps.params import UNBOUNDED, Param, parse_param
from store import BadInput

METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")
# W&B's keys that say where and what to run: `sweep create`'s -j/-q say it here.
IGNORED_KEYS = ("program", "command", "project", "entity", "job", "image_uri", "controller")
KNOWN_KEYS = (
    "method",
    "metric",
    "parameters",
    "early_terminate",
    "run_cap",
    "name",
    "description",
    "optuna",
    "seed",
    "apiVersion",
    "kind",
    *IGNORED_KEYS,
)
SAMPLERS = ("tpe", "random", "cmaes", "qmc", "gp")
PRUNERS = ("median", "percentile", "successive_halving", "hyperband", "none")


@dataclass(frozen=True)
class Hyperband:
    """W&B's early_terminate: at each band (a step), a running trial whose metric is worse
    than the best 1/eta of all trials' values at that band is stopped."""

    bands: tuple[int, ...]
    eta: float


@dataclass(frozen=True)
class SweepConfig:
    method: str
    params: tuple[Param, ...]
    metric: str | None = None
    goal: str = "minimize"
    run_cap: int | None = None
    hyperband: Hyperband | None = None
    sampler: tuple[str, dict] | None = None  # Optuna: (name, keyword arguments)
    pruner: tuple[str, dict] | None = None
    seed: int | None = None
    document: dict = field(default_factory=dict)

    @property
    def uses_optuna(self) -> bool:
        return self.method == "bayes" or self.sampler is not None or self.pruner is not None


def parse_sweep_config(document: Any) -> SweepConfig:
    """Check a sweep config document; raises BadInput naming the first bad field."""
    doc = expect_mapping(document, "sweep config")
    for key in doc:
        if key not in KNOWN_KEYS:
            known = ", ".join(KNOWN_KEYS)
            raise BadInput(key, f"is not a sweep config key; expected one of {known}")
    method = doc.get("method")
    if method not in METHODS:
        raise BadInput("method", f"{method!r}; expected one of {', '.join(METHODS)}")
    metric, goal = _metric(doc.get("metric"), method)
    parameters = doc.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise BadInput("parameters", "expected a non-empty mapping of parameter names")
    params = tuple(_params(parameters, "", method))
    run_cap = doc.get("run_cap")
    if run_cap is not None and (
        isinstance(run_cap, bool) or not isinstance(run_cap, int) or run_cap < 1
    ):
        raise BadInput("run_cap", f"{run_cap!r}; expected a whole number of 1 or more")
    hyperband = _hyperband(doc.get("early_terminate"))
    if hyperband is not None and metric is None:
        raise BadInput("metric", "is missing; early_terminate needs the metric it compares")
    seed = doc.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise BadInput("seed", f"{seed!r}; expected a whole number of 0 or more")
    sampler, pruner = _optuna(doc.get("optuna"))
    if (sampler or pruner) and metric is None:
        raise BadInput("metric", "is missing; optuna's sampler and pruner need a metric")
    if pruner is not None and hyperband is not None:
        raise BadInput("optuna.pruner", "and early_terminate both stop trials; expected one")
    if sampler is not None and method == "grid":
        raise BadInput("optuna.sampler", "with method grid; expected method bayes or random")
    if sampler is not None and sampler[0] != "random":
        for param in params:
            if param.distribution in UNBOUNDED:
                raise BadInput(
                    f"{param.field}.distribution",
                    f"{param.distribution} is unbounded; Optuna's {sampler[0]} needs bounds",
                )
    return SweepConfig(
        method=method,
        params=params,
        metric=metric,
        goal=goal,
        run_cap=run_cap,
        hyperband=hyperband,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        document=doc,
    )


def _metric(value: Any, method: str) -> tuple[str | None, str]:
    if value is None:
        if method == "bayes":
            raise BadInput("metric", "is missing; bayes needs a metric to optimize")
        return None, "minimize"
    value = expect_mapping(value, "metric")
    for key in value:
        if key not in ("name", "goal", "target", "impute", "impute_while_running"):
            raise BadInput(f"metric.{key}", "is not a metric key; expected name, goal")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise BadInput("metric.name", "expected the name of a metric the job reports")
    goal = value.get("goal", "minimize")
    if goal not in GOALS:
        raise BadInput("metric.goal", f"{goal!r}; expected minimize or maximize")
    return name, goal


def _params(parameters: dict, prefix: str, method: str) -> list[Param]:
    found: list[Param] = []
    for name, spec in parameters.items():
        path = f"{prefix}{name}"
        if not isinstance(name, str) or not name or "." in name:
            raise BadInput(
                f"parameters.{name}", "expected a name without dots (nest with parameters:)"
            )
        if isinstance(spec, dict) and "parameters" in spec:
            nested = spec["parameters"]
            field = "parameters." + path.replace(".", ".parameters.") + ".parameters"
            if len(spec) != 1 or not isinstance(nested, dict) or not nested:
                raise BadInput(field, "expected a non-empty mapping of parameters, alone")
            found += _params(nested, path + ".", method)
        else:
            found.append(parse_param(path, spec, method))
    return found


def _hyperband(value: Any) -> Hyperband | None:
    if value is None:
        return None
    value = expect_mapping(value, "early_terminate")
    allowed = ("type", "min_iter", "max_iter", "s", "eta", "strict")
    for key in value:
        if key not in allowed:
            raise BadInput(f"early_terminate.{key}", f"expected one of {', '.join(allowed)}")
    if value.get("type") != "hyperband":
        raise BadInput("early_terminate.type", f"{value.get('type')!r}; expected hyperband")
    eta = value.get("eta", 3)
    if isinstance(eta, bool) or not isinstance(eta, int | float) or eta <= 1:
        raise BadInput("early_terminate.eta", f"{eta!r}; expected a number above 1")
    for key in ("min_iter", "max_iter", "s"):
        number = value.get(key)
        if number is not None and (
            isinstance(number, bool) or not isinstance(number, int) or number < 1
        ):
            raise BadInput(f"early_terminate.{key}", f"{number!r}; expected a whole number ≥ 1")
    if "max_iter" in value:
        if "s" not in value:
            raise BadInput("early_terminate.s", "is missing; max_iter needs s (how many bands)")
        bands, band = [], float(value["max_iter"])
        for _ in range(value["s"]):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
    elif "min_iter" in value:
        bands, band = [], float(value["min_iter"])
        while band < 1e9:
            bands.append(int(band))
            band *= eta
    else:
        raise BadInput("early_terminate", "expected min_iter, or max_iter and s")
    if not bands:
        raise BadInput("early_terminate.s", "gives no band; increase max_iter or decrease eta")
    return Hyperband(tuple(sorted(set(bands))), float(eta))


def _optuna(value: Any) -> tuple[tuple[str, dict] | None, tuple[str, dict] | None]:
    if value is None:
        return None, None
    value = expect_mapping(value, "optuna")
    for key in value:
        if key not in ("sampler", "pruner"):
            raise BadInput(f"optuna.{key}", "expected sampler or pruner")
    sampler = _named(value.get("sampler"), "optuna.sampler", SAMPLERS)
    pruner = _named(value.get("pruner"), "optuna.pruner", PRUNERS)
    if pruner is not None and pruner[0] == "none":
        pruner = None
    # Build them now: a bad keyword argument is refused at create, not in the agent.
    from runners.sweeps.optuna_search import make_pruner, make_sampler

    if sampler is not None:
        make_sampler(sampler, 0, "optuna.sampler")
    if pruner is not None:
        make_pruner(pruner, "optuna.pruner")
    return sampler, pruner


def _named(value: Any, field: str, names: tuple[str, ...]) -> tuple[str, dict] | None:
    """`tpe`, or `{type: tpe, n_startup_trials: 5}`: a name and its keyword arguments."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"type": value}
    value = expect_mapping(value, field)
    kind = value.get("type")
    if kind not in names:
        where = f"{field}.type" if "type" in value else field
        raise BadInput(where, f"{kind!r}; expected one of {', '.join(names)}")
    return kind, {key: item for key, item in value.items() if key != "type"}


def check_against_schema(config: SweepConfig, schema: dict | None) -> None:
    """Every parameter is in the job's input schema, and every value it can take is allowed
    there (each of its values; its min and max; real numbers only where numbers are)."""
    if schema is None:
        return
    for param in config.params:
        prop = _property(schema, param)
        if prop is None:
            continue  # the schema lets any key through there
        grid = param.grid_values()
        if param.distribution in ("categorical", "categorical_w_probabilities", "constant"):
            for index, value in enumerate(grid):
                where = (
                    f"{param.field}.value"
                    if param.distribution == "constant"
                    else f"{param.field}.values[{index}]"
                )
                check_value(value, prop, where)
            continue
        if prop.get("type") == "integer" and not param.gives_integers():
            raise BadInput(
                f"{param.field}.distribution",
                f"{param.distribution} gives real numbers; the job's input schema expects an"
                " integer (use int_uniform, a q_ distribution with a whole q, or values)",
            )
        if prop.get("type") not in (None, "number", "integer"):
            raise BadInput(
                f"{param.field}.distribution",
                f"gives numbers; the job's input schema expects {prop.get('type')}",
            )
        bounds = param.bounds()
        if bounds is None:
            if "minimum" in prop or "maximum" in prop:
                raise BadInput(
                    f"{param.field}.distribution",
                    f"{param.distribution} is unbounded; the job's input schema bounds it"
                    f" ({prop.get('minimum', '-inf')} to {prop.get('maximum', 'inf')})",
                )
            continue
        for key, value in zip(("min", "max"), bounds, strict=True):
            if param.gives_integers() and isinstance(value, float) and value.is_integer():
                value = int(value)
            check_value(value if math.isfinite(value) else 0, prop, f"{param.field}.{key}")


def _property(schema: dict, param: Param) -> dict | None:
    current = schema
    parts = param.path.split(".")
    for depth, part in enumerate(parts):
        properties = current.get("properties")
        if properties is None or part not in properties:
            if properties is not None and not current.get("additionalProperties", False):
                where = "parameters." + ".parameters.".join(parts[: depth + 1])
                raise BadInput(
                    where,
                    "is not in the job's input schema; expected one of"
                    f" {', '.join(properties) or '(none)'}",
                )
            return None
        current = properties[part]
    return current

"""One swept parameter, in W&B's spellings: how it is checked, drawn at random, listed for a
grid, and described to Optuna.

A parameter's `path` is its place in the run config ("optimizer.lr" for a nested
`parameters:`). What a searcher draws ("suggested") can differ from the value the run gets:
a categorical is drawn as the index of its value (Optuna wants plain choices; W&B's values may
be lists or mappings), a q_ distribution is drawn continuous and rounded to its q.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from store import BadInput

CONSTANT = "constant"
CATEGORICAL = ("categorical", "categorical_w_probabilities")
# name: the keys it takes besides `distribution` (with W&B's defaults).
DISTRIBUTIONS: dict[str, dict[str, Any]] = {
    "constant": {"value": None},
    "categorical": {"values": None},
    "categorical_w_probabilities": {"values": None, "probabilities": None},
    "int_uniform": {"min": None, "max": None},
    "uniform": {"min": None, "max": None},
    "q_uniform": {"min": None, "max": None, "q": 1.0},
    "log_uniform": {"min": None, "max": None},  # min/max: natural logs of the bounds
    "log_uniform_values": {"min": None, "max": None},
    "q_log_uniform": {"min": None, "max": None, "q": 1.0},
    "q_log_uniform_values": {"min": None, "max": None, "q": 1.0},
    "inv_log_uniform": {"min": None, "max": None},
    "inv_log_uniform_values": {"min": None, "max": None},
    "normal": {"mu": 0.0, "sigma": 1.0},
    "q_normal": {"mu": 0.0, "sigma": 1.0, "q": 1.0},
    "log_normal": {"mu": 0.0, "sigma": 1.0},
    "q_log_normal": {"mu": 0.0, "sigma": 1.0, "q": 1.0},
    "beta": {"a": 1.0, "b": 1.0},
    "q_beta": {"a": 1.0, "b": 1.0, "q": 1.0},
}
UNBOUNDED = ("normal", "q_normal", "log_normal", "q_log_normal")
# Bounded distributions whose min/max are the values themselves (log_uniform's are logs).
_VALUE_BOUNDS = (
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform_values",
    "q_log_uniform_values",
    "inv_log_uniform_values",
)


@dataclass(frozen=True)
class Param:
    path: str
    distribution: str
    spec: dict  # the keys of DISTRIBUTIONS[distribution], defaults filled

    @property
    def field(self) -> str:
        return "parameters." + self.path.replace(".", ".parameters.")

    # -- what values it can take -----------------------------------------------------------

    def grid_values(self) -> list | None:
        """Every value, in order, for a grid; None when there are too many to list."""
        if self.distribution == CONSTANT:
            return [self.spec["value"]]
        if self.distribution in CATEGORICAL:
            return list(self.spec["values"])
        if self.distribution == "int_uniform":
            return list(range(self.spec["min"], self.spec["max"] + 1))
        if self.distribution == "q_uniform":
            low, high, q = self.spec["min"], self.spec["max"], self.spec["q"]
            count = math.floor((high - low) / q + 1e-9) + 1
            return [_quantize(low + i * q, q) for i in range(count)]
        return None

    def bounds(self) -> tuple[float, float] | None:
        """The least and greatest value a run can get, for the schema check (None: unbounded)."""
        spec, name = self.spec, self.distribution
        if name in _VALUE_BOUNDS:
            return spec["min"], spec["max"]
        if name in ("log_uniform", "q_log_uniform"):
            return math.exp(spec["min"]), math.exp(spec["max"])
        if name == "inv_log_uniform":
            return math.exp(-spec["max"]), math.exp(-spec["min"])
        if name in ("beta", "q_beta"):
            return 0.0, 1.0
        return None

    def gives_integers(self) -> bool:
        return self.distribution == "int_uniform" or (
            self.distribution.startswith("q_") and float(self.spec["q"]).is_integer()
        )

    # -- drawing -------------------------------------------------------------------------------

    def draw(self, rng: random.Random) -> Any:
        """A suggestion at random, in the searcher's space (see `value_of`)."""
        spec, name = self.spec, self.distribution
        if name == CONSTANT:
            return spec["value"]
        if name == "categorical":
            return rng.randrange(len(spec["values"]))
        if name == "categorical_w_probabilities":
            indices = range(len(spec["values"]))
            return rng.choices(indices, weights=spec["probabilities"])[0]
        if name == "int_uniform":
            return rng.randint(spec["min"], spec["max"])
        if name in ("uniform", "q_uniform"):
            return rng.uniform(spec["min"], spec["max"])
        if name in ("log_uniform", "q_log_uniform"):
            return math.exp(rng.uniform(spec["min"], spec["max"]))
        if name in ("log_uniform_values", "q_log_uniform_values"):
            return math.exp(rng.uniform(math.log(spec["min"]), math.log(spec["max"])))
        if name == "inv_log_uniform":
            return math.exp(-rng.uniform(spec["min"], spec["max"]))
        if name == "inv_log_uniform_values":
            return 1 / math.exp(rng.uniform(math.log(1 / spec["max"]), math.log(1 / spec["min"])))
        if name in ("normal", "q_normal"):
            return rng.gauss(spec["mu"], spec["sigma"])
        if name in ("log_normal", "q_log_normal"):
            return rng.lognormvariate(spec["mu"], spec["sigma"])
        return rng.betavariate(spec["a"], spec["b"])  # beta, q_beta

    def value_of(self, suggested: Any) -> Any:
        """The run config's value for a suggestion."""
        if self.distribution in CATEGORICAL:
            return self.spec["values"][suggested]
        if self.distribution.startswith("q_"):
            return _quantize(suggested, self.spec["q"])
        return suggested

    def optuna_distribution(self):
        """The Optuna distribution suggestions are drawn from (None: a constant)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        spec, name = self.spec, self.distribution
        if name == CONSTANT:
            return None
        if name in CATEGORICAL:
            return CategoricalDistribution(list(range(len(spec["values"]))))
        if name == "int_uniform":
            return IntDistribution(spec["min"], spec["max"])
        if name in ("uniform", "q_uniform"):
            return FloatDistribution(spec["min"], spec["max"])
        low, high = self.bounds()
        return FloatDistribution(low, high, log=True)


def _quantize(value: float, q: float) -> float | int:
    rounded = round(value / q) * q
    return int(rounded) if float(q).is_integer() else round(rounded, 12)


def parse_param(path: str, spec: Any, method: str) -> Param:
    """One entry of `parameters:` (not a nested one), checked; W&B's inference of the
    distribution from the keys given (values → categorical, integer min/max → int_uniform…)."""
    field = "parameters." + path.replace(".", ".parameters.")
    if not isinstance(spec, dict):
        raise BadInput(field, "expected a mapping (values, value, or distribution with min/max)")
    name = spec.get("distribution")
    if name is None:
        name = _inferred(spec, field)
    if name not in DISTRIBUTIONS:
        raise BadInput(
            f"{field}.distribution", f"{name!r}; expected one of {', '.join(DISTRIBUTIONS)}"
        )
    allowed = DISTRIBUTIONS[name]
    for key in spec:
        if key != "distribution" and key not in allowed:
            raise BadInput(
                f"{field}.{key}",
                f"is not a key of distribution {name}; expected {', '.join(allowed)}",
            )
    values = {key: spec.get(key, default) for key, default in allowed.items()}
    for key, value in values.items():
        if value is None:
            raise BadInput(f"{field}.{key}", f"is missing; distribution {name} needs it")
    _check_values(name, values, field)
    if method == "bayes" and name in (*UNBOUNDED, "beta", "q_beta"):
        raise BadInput(
            f"{field}.distribution",
            f"{name} is unbounded or skewed; bayes (TPE) needs a bounded distribution"
            " (uniform, int_uniform, log_uniform_values, q_…, values)",
        )
    param = Param(path, name, values)
    if method == "grid" and param.grid_values() is None:
        raise BadInput(
            f"{field}.distribution",
            f"{name} has no finite list of values; grid needs values, value, int_uniform or"
            " q_uniform",
        )
    return param


def _inferred(spec: dict, field: str) -> str:
    if "values" in spec:
        return "categorical_w_probabilities" if "probabilities" in spec else "categorical"
    if "value" in spec:
        return CONSTANT
    if "min" in spec and "max" in spec:
        both_int = all(isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in spec)
        return "int_uniform" if both_int else "uniform"
    raise BadInput(field, "expected values, value, or min and max (or a distribution)")


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadInput(field, f"{value!r}; expected a finite number")
    return value


def _check_values(name: str, values: dict, field: str) -> None:
    if name in CATEGORICAL and (not isinstance(values["values"], list) or not values["values"]):
        raise BadInput(f"{field}.values", "is empty; expected a non-empty list")
    if name == "categorical_w_probabilities":
        probabilities = values["probabilities"]
        if not isinstance(probabilities, list) or len(probabilities) != len(values["values"]):
            raise BadInput(f"{field}.probabilities", "expected one number per value")
        for index, p in enumerate(probabilities):
            if _number(p, f"{field}.probabilities[{index}]") < 0:
                raise BadInput(f"{field}.probabilities[{index}]", f"{p}; expected 0 or more")
        if sum(probabilities) <= 0:
            raise BadInput(f"{field}.probabilities", "sum to 0; expected a positive sum")
    for key in ("min", "max", "mu", "sigma", "q", "a", "b"):
        if key in values:
            _number(values[key], f"{field}.{key}")
    if name == "int_uniform":
        for key in ("min", "max"):
            if not isinstance(values[key], int):
                raise BadInput(f"{field}.{key}", f"{values[key]!r}; expected an integer")
    if "min" in values and values["min"] > values["max"]:
        raise BadInput(
            f"{field}.min",
            f"{values['min']} is greater than max {values['max']}; expected min ≤ max",
        )
    if name.endswith("_values") and values["min"] <= 0:
        raise BadInput(f"{field}.min", f"{values['min']}; {name} expects min > 0")
    for key in ("sigma", "a", "b"):
        if key in values and values[key] < 0:
            raise BadInput(f"{field}.{key}", f"{values[key]}; expected 0 or more")
    if "q" in values and values["q"] <= 0:
        raise BadInput(f"{field}.q", f"{values['q']}; expected a number above 0")

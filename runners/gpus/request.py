"""The GPU keys a local-process or docker queue's resource_args take, and the request and time
limit they make.

```yaml
resource_args:
  gpus: 2                 # devices the agent hands this run alone (CUDA_VISIBLE_DEVICES)
  gpu_min_free_mib: 20000 # each with at least this much memory free
  gpu_name: A100          # each with this in its name
  time_limit: 2h          # the run is stopped this long after it gets its devices
```

In a queue's config `gpus` is a ceiling a launch may lower, not raise (unless the queue lists
`gpus` in `raisable_limits`); `gpus: all` gives every run every GPU, unmanaged, as before.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from store import BadInput

from .placement import GpuRequest

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class GpuArgs(BaseModel):
    """Mixed into a target's resource-args model."""

    gpus: Literal["all"] | int | list[str] | None = None
    """GPUs: a count the agent hands out exclusively, `all` (unmanaged), or device ids."""
    gpu_min_free_mib: int | None = Field(default=None, gt=0)
    """With `gpus: N`: each device has at least this much memory free (MiB)."""
    gpu_name: str | None = Field(default=None, min_length=1)
    """With `gpus: N`: each device's name contains this, e.g. A100 (case-insensitive)."""
    time_limit: float | None = None
    """Seconds, or a duration such as 90m, 2h, 1h30m: the run is stopped this long after it
    was given its devices (lets a queue with backfill start later items without delaying the
    head)."""

    @field_validator("gpus")
    @classmethod
    def _gpus(cls, value):
        if isinstance(value, int) and value < 0:
            raise ValueError("expected all, a count (0: none), or a list of device ids")
        return value

    @field_validator("time_limit", mode="before")
    @classmethod
    def _time_limit(cls, value):
        return None if value is None else parse_duration(value)


def parse_duration(value: Any) -> float:
    """Seconds from a positive number or a string like 3600, 90s, 30m, 2h, 1d or 1h30m."""
    expected = f"expected seconds or a duration such as 90m, 2h, 1h30m; got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(expected)
    if isinstance(value, str):
        compact = value.replace(" ", "")
        parts = _DURATION.findall(compact)
        if re.fullmatch(r"\d+(\.\d+)?", compact):
            seconds = float(compact)
        elif parts and "".join(number + unit for number, unit in parts) == compact:
            seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
        else:
            raise ValueError(expected)
    else:
        seconds = float(value)
    if not 0 < seconds < 366 * 86400:
        raise ValueError(f"expected a duration above 0 and under a year; got {value!r}")
    return seconds


def gpu_request(resource_args: dict) -> GpuRequest | None:
    """What a run's resource_args ask the agent for: None when the agent hands out nothing
    (no GPUs asked for, or `all`/device ids, which the queue manages itself)."""
    count = resource_args.get("gpus")
    if not isinstance(count, int) or isinstance(count, bool):
        return None
    return GpuRequest(
        count=count,
        min_free_mib=resource_args.get("gpu_min_free_mib"),
        name=resource_args.get("gpu_name"),
    )


def check_possible(resource_args: dict) -> None:
    """Refuse, with BadInput, GPUs this machine can never give (more than it has, a name it
    lacks): such an item would wait forever. Reads the inventory only when GPUs are asked for."""
    request = gpu_request(resource_args)
    if request is None:
        return
    from .placement import impossible
    from .settings import load_gpu_settings, load_inventory

    why = impossible(request, load_inventory(load_gpu_settings()))
    if why is not None:
        raise BadInput("resource_args.gpus", why)


def check_gpu_ceiling(queue: Any, launch: Any, *, raisable: bool = False) -> None:
    """A launch's `gpus` against its queue's: `all` allows anything; a count, at most as many;
    a list of ids, a part of it; none, nothing but 0. `raisable`: the queue could grant more
    (docker's raisable_limits), which the refusal says."""
    if queue == "all" or launch == 0:
        return
    if queue is None:
        _refuse(f"{launch!r} asks for GPUs and the queue gives none", raisable)
    if isinstance(queue, list):
        if not isinstance(launch, list) or not set(launch) <= set(queue):
            _refuse(f"{launch!r} is not among the queue's GPUs {queue!r}", raisable)
        return
    count = math.inf if launch == "all" else len(launch) if isinstance(launch, list) else launch
    if count > queue:
        shown = "all" if count == math.inf else f"{count:g}"
        _refuse(f"{shown} is above the queue's limit of {queue:g}", raisable)


def _refuse(what: str, raisable: bool) -> None:
    grant = " (the queue grants that with raisable_limits: [gpus])" if raisable else ""
    raise BadInput(
        "resource_args.gpus",
        f"{what}; a launch may lower the queue's limits, not raise them{grant}",
    )

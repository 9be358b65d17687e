"""A docker queue's limits are ceilings: a launch may lower them, never raise or remove them.

Each limit is compared by its value, whatever its spelling (`1t` and `1024g`, an int or a
string), against what the queue's container would get: the queue's own value, else docker's
default when the queue sets none. Unlimited (`memory: 0`, `pids_limit: -1`, `memory_swap: -1`,
a ulimit of -1, `gpus: all`) is above every number. A queue lets launches go past one of its
ceilings by naming it in `raisable_limits` (queue only, like `allowed_networks`).
"""

import math
from collections.abc import Callable
from typing import Any

from runners.gpus.request import check_gpu_ceiling
from store import BadInput

UNLIMITED = math.inf
# Docker's /dev/shm when the container asks for none (an shm_size of 0 means the same).
DEFAULT_SHM_SIZE = 64 * 1024**2
LIMIT_KEYS = ("cpus", "memory", "memory_swap", "shm_size", "pids_limit", "gpus", "ulimits", "init")


def check_docker_ceilings(queue: Any, launch: Any, launch_args: dict) -> None:
    """Refuse, with BadInput, a limit in `launch_args` above `queue`'s (both DockerArgs)."""
    granted = set(queue.raisable_limits)
    for key, measure, show in (
        ("cpus", _unlimited_if_none, _plain),
        ("memory", _bytes_or_unlimited, _size),
        ("pids_limit", _pids, _plain),
        ("shm_size", _shm, _size),
    ):
        if key in launch_args and key not in granted:
            _at_most(key, measure(getattr(launch, key)), measure(getattr(queue, key)), show)
    if "memory_swap" in launch_args and "memory_swap" not in granted:
        _at_most("memory_swap", _swap(launch), _swap(queue), _size)
    if "gpus" in launch_args and "gpus" not in granted:
        check_gpu_ceiling(queue.gpus, launch.gpus, raisable=True)
    if "ulimits" in launch_args and "ulimits" not in granted:
        _check_ulimits(queue.ulimits, launch.ulimits)
    if "init" in launch_args and "init" not in granted and queue.init and not launch.init:
        _refuse("init", "false would remove the init the queue runs as PID 1")


def _at_most(key: str, asked: float, ceiling: float, show: Callable[[float], str]) -> None:
    if asked > ceiling:
        _refuse(key, f"{show(asked)} is above the queue's limit of {show(ceiling)}")


def _refuse(key: str, what: str) -> None:
    name = key.split(".")[0]
    raise BadInput(
        f"resource_args.{key}",
        f"{what}; a launch may lower the queue's limits, not raise them"
        f" (the queue grants that with raisable_limits: [{name}])",
    )


def _unlimited_if_none(value: float | None) -> float:
    return UNLIMITED if value is None else value


def _bytes_or_unlimited(value: int | None) -> float:
    return value or UNLIMITED  # memory 0: no limit at all


def _pids(value: int | None) -> float:
    return UNLIMITED if value is None or value <= 0 else value  # 0 and -1: unlimited


def _shm(value: int | None) -> float:
    return value or DEFAULT_SHM_SIZE


def _swap(args: Any) -> float:
    """Memory plus swap: the setting, else docker's default of twice the memory limit."""
    if args.memory_swap == -1:
        return UNLIMITED
    if args.memory_swap:
        return args.memory_swap
    return 2 * args.memory if args.memory else UNLIMITED


def _check_ulimits(queue: dict, launch: dict) -> None:
    """Each ulimit's soft and hard values at most the queue's; one the queue does not set has
    the engine's default, which launchbay can't know: a launch may not set it."""
    for name, value in launch.items():
        if name not in queue:
            _refuse(f"ulimits.{name}", "the queue sets no such ulimit, so a launch may not")
        for part, asked, ceiling in zip(
            ("soft", "hard"), _soft_hard(value), _soft_hard(queue[name]), strict=True
        ):
            _at_most(f"ulimits.{name}.{part}", asked, ceiling, _plain)


def _soft_hard(value: Any) -> tuple[float, float]:
    soft, hard = (value, value) if isinstance(value, int) else (value.soft, value.hard)
    return (UNLIMITED if soft == -1 else soft), (UNLIMITED if hard == -1 else hard)


def _plain(value: float) -> str:
    return "unlimited" if value == UNLIMITED else f"{value:g}"


def _size(value: float) -> str:
    return "unlimited" if value == UNLIMITED else format_bytes(int(value))


def format_bytes(count: int) -> str:
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= size:
            return f"{count / size:g} {unit}"
    return f"{count} B"

"""Which devices a run that asks for GPUs gets now, or why it waits.

Pure functions over the inventory (what devices exist and how busy they are) and the store's
live allocations (which run holds which device): the agent calls `place` inside the claim, and
the same answer explains a waiting item in `queue describe` and the Queues screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .inventory import Gpu, Inventory


@dataclass(frozen=True)
class GpuRequest:
    """What a run asks for: `count` devices, each with at least `min_free_mib` free and a name
    containing `name` (case-insensitive), e.g. "A100"."""

    count: int = 0
    min_free_mib: int | None = None
    name: str | None = None

    def fits(self, gpu: Gpu) -> bool:
        """Whether `gpu` is the kind of device asked for (not whether it is free)."""
        return self.name is None or self.name.lower() in gpu.name.lower()

    def describe(self) -> str:
        what = f"{self.count} GPU" + ("s" if self.count != 1 else "")
        if self.name:
            what += f" matching {self.name!r}"
        if self.min_free_mib:
            what += f" with {self.min_free_mib} MiB free"
        return what


@dataclass(frozen=True)
class Placement:
    gpus: tuple[Gpu, ...] = ()  # the devices to hand out; empty when the run must wait
    waiting: str | None = None  # why it waits, naming what holds each device it could use

    @property
    def placed(self) -> bool:
        return self.waiting is None


def place(
    request: GpuRequest,
    inventory: Inventory,
    held: Mapping[str, str],
    busy_above_mib: int,
    *,
    avoid: frozenset[str] = frozenset(),
) -> Placement:
    """Choose `request.count` free devices, lowest index first. `held` maps device key → run
    id for live allocations; `avoid` are devices another (earlier) item keeps for itself."""
    if request.count == 0:
        return Placement()
    kind = [gpu for gpu in inventory.gpus if request.fits(gpu)]
    free, reasons = [], []
    for gpu in kind:
        reason = _why_not_free(gpu, request, held, busy_above_mib, avoid)
        if reason is None:
            free.append(gpu)
        else:
            reasons.append(reason)
    if len(free) >= request.count:
        return Placement(tuple(free[: request.count]))
    detail = f" ({', '.join(reasons)})" if reasons else ""
    return Placement(
        waiting=f"waiting for {request.describe()}: {len(free)} free{detail}",
    )


def _why_not_free(
    gpu: Gpu, request: GpuRequest, held: Mapping[str, str], busy_above_mib: int, avoid
) -> str | None:
    if gpu.key in held:
        return f"GPU {gpu.index} held by run {held[gpu.key]}"
    if gpu.key in avoid:
        return f"GPU {gpu.index} kept for an earlier item"
    busy = busy_outside(gpu, busy_above_mib)
    if busy is not None:
        return busy
    if request.min_free_mib and gpu.memory_free_mib < request.min_free_mib:
        return f"GPU {gpu.index} has {gpu.memory_free_mib} MiB free"
    return None


def busy_outside(gpu: Gpu, busy_above_mib: int) -> str | None:
    """Why a device no run holds is busy all the same (processes launchbay did not start use
    more than `busy_above_mib` of it), or None. Where NVML can't say a process's memory, the
    device's whole use stands for it."""
    outside = gpu.processes
    unknown = any(p.used_mib is None for p in outside)
    outside_mib = gpu.memory_used_mib if unknown else sum(p.used_mib for p in outside)
    if not outside or outside_mib <= busy_above_mib:
        return None
    pids = ", ".join(str(p.pid) for p in outside[:3])
    return f"GPU {gpu.index} used by pid {pids} outside launchbay"


def impossible(request: GpuRequest, inventory: Inventory) -> str | None:
    """Why `request` can never be placed on this machine (so a launch is refused, not left to
    wait forever), or None."""
    if request.count == 0:
        return None
    if not inventory.gpus:
        why = inventory.note or "no GPUs are declared"
        return f"{request.describe()} asked for, but this machine has none: {why}"
    kind = [gpu for gpu in inventory.gpus if request.fits(gpu)]
    if request.name and not kind:
        names = ", ".join(sorted({gpu.name for gpu in inventory.gpus}))
        return f"no GPU here matches {request.name!r}; expected part of one of: {names}"
    if request.count > len(kind):
        return f"{request.count} GPUs asked for, but this machine has {len(kind)}" + (
            f" matching {request.name!r}" if request.name else ""
        )
    largest = max(gpu.memory_total_mib for gpu in kind)
    if request.min_free_mib and request.min_free_mib > largest:
        return f"{request.min_free_mib} MiB free asked for, but the largest GPU has {largest} MiB"
    return None

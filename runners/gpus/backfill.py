"""Which waiting item of a queue starts next, when items ask for GPUs.

FIFO within a priority: the head of the line starts when its devices are free. Behind a head
that must wait, a queue with `backfill: true` lets a later item start only where it cannot
delay the head, as Slurm's backfill does: the head's earliest start `T` is worked out from the
time limits of the runs holding the devices it needs, and the `count` devices it will take then
are kept for it. A later item may use a kept device only if its own time limit ends by `T`;
any other free device it may use at will. A run without a time limit never ends, as far as
this plan knows. (Devices that processes outside launchbay keep busy are left out: launchbay
can't know when they free up.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .inventory import Gpu, Inventory
from .placement import GpuRequest, Placement, busy_outside, place


@dataclass(frozen=True)
class Candidate:
    item_id: int
    request: GpuRequest | None  # None: the item asks for no GPUs
    time_limit: float | None = None


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    placement: Placement


@dataclass(frozen=True)
class Reservation:
    starts_by: float  # the head's earliest start; inf when it hangs on a run without a limit
    kept: frozenset[str]  # the devices it will take then


def choose(
    waiting: Sequence[Candidate],
    inventory: Inventory,
    held: Mapping[str, str],
    releases: Mapping[str, float],
    *,
    now: float,
    busy_above_mib: int,
    backfill: bool,
) -> Choice | None:
    """The item to start now and its devices, or None while the line must wait. `held` maps a
    held device to its run, `releases` a held device to when its run's time limit frees it."""
    if not waiting:
        return None
    head, later = waiting[0], waiting[1:]
    first = _try(head, inventory, held, busy_above_mib, frozenset())
    if first is not None or not backfill:
        return first
    reservation = reserve(head.request, inventory, held, releases, now, busy_above_mib)
    for candidate in later:
        ends = now + candidate.time_limit if candidate.time_limit else math.inf
        gone_by_then = math.isfinite(reservation.starts_by) and ends <= reservation.starts_by
        avoid = frozenset() if gone_by_then else reservation.kept
        choice = _try(candidate, inventory, held, busy_above_mib, avoid)
        if choice is not None:
            return choice
    return None


def _try(candidate, inventory, held, busy_above_mib, avoid) -> Choice | None:
    if candidate.request is None:
        return Choice(candidate, Placement())
    placement = place(candidate.request, inventory, held, busy_above_mib, avoid=avoid)
    return Choice(candidate, placement) if placement.placed else None


def reserve(
    request: GpuRequest,
    inventory: Inventory,
    held: Mapping[str, str],
    releases: Mapping[str, float],
    now: float,
    busy_above_mib: int,
) -> Reservation:
    """When the head of the line can start at the earliest, and which devices it takes then:
    of those free by that time, the ones freed last, so that devices free now stay usable by
    later items that outlast the plan."""
    ready = sorted(
        (_ready_at(gpu, request, held, releases, now, busy_above_mib), gpu.index, gpu.key)
        for gpu in inventory.gpus
        if request.fits(gpu)
    )
    ready = [entry for entry in ready if entry[0] is not None]
    if len(ready) < request.count:
        return Reservation(math.inf, frozenset(key for _, _, key in ready))
    starts_by = ready[request.count - 1][0]
    if math.isinf(starts_by):  # hangs on a run with no limit: any device it could use is kept
        return Reservation(starts_by, frozenset(key for _, _, key in ready))
    by_then = [entry for entry in ready if entry[0] <= starts_by]
    kept = sorted(by_then, key=lambda entry: (-entry[0], entry[1]))[: request.count]
    return Reservation(starts_by, frozenset(key for _, _, key in kept))


def _ready_at(
    gpu: Gpu, request: GpuRequest, held, releases, now: float, busy_above_mib: int
) -> float | None:
    """When `gpu` is free for `request` at the latest; None when launchbay can't know."""
    if gpu.key in held:
        return releases.get(gpu.key, math.inf)
    if busy_outside(gpu, busy_above_mib) is not None:
        return None
    if request.min_free_mib and gpu.memory_free_mib < request.min_free_mib:
        return None
    return now

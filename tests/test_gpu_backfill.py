"""Which waiting item starts next when items ask for GPUs: FIFO, and backfill that never
delays the head (a declared inventory of identical devices; no GPU exists here)."""

import math

from runners.gpus.backfill import Candidate, choose, reserve
from runners.gpus.inventory import Gpu, Inventory
from runners.gpus.placement import GpuRequest

EIGHT = Inventory(tuple(Gpu(i, f"GPU-{i}", "NVIDIA H100", 81920) for i in range(8)))
NOW = 1000.0


def _choose(waiting, held, releases=None, backfill=True):
    return choose(
        waiting, EIGHT, held, releases or {}, now=NOW, busy_above_mib=1024, backfill=backfill
    )


def _held(*indices, run="r"):
    return {f"GPU-{i}": f"{run}{i}" for i in indices}


def test_the_head_starts_when_its_devices_are_free():
    choice = _choose([Candidate(1, GpuRequest(4)), Candidate(2, GpuRequest(1))], _held(0, 1))
    assert choice.candidate.item_id == 1
    assert [gpu.index for gpu in choice.placement.gpus] == [2, 3, 4, 5]


def test_without_backfill_nothing_overtakes_a_waiting_head():
    waiting = [Candidate(1, GpuRequest(4)), Candidate(2, GpuRequest(1)), Candidate(3, None)]
    assert _choose(waiting, _held(0, 1, 2, 3, 4, 5), backfill=False) is None


def test_backfill_keeps_the_heads_devices_from_an_item_that_would_outlast_its_start():
    # The head needs 4; 2 are free now (6, 7) and runs with limits free 4 and 5 at NOW+100.
    held = _held(0, 1, 2, 3, 4, 5)
    releases = {"GPU-4": NOW + 100, "GPU-5": NOW + 100}
    head = Candidate(1, GpuRequest(4))
    plan = reserve(head.request, EIGHT, held, releases, NOW, 1024)
    assert plan.starts_by == NOW + 100
    assert plan.kept == {"GPU-4", "GPU-5", "GPU-6", "GPU-7"}
    long = Candidate(2, GpuRequest(1), time_limit=500)
    assert _choose([head, long], held, releases) is None
    unlimited = Candidate(3, GpuRequest(1))
    assert _choose([head, unlimited], held, releases) is None


def test_backfill_starts_a_later_item_that_ends_before_the_head_can_start():
    held = _held(0, 1, 2, 3, 4, 5)
    releases = {"GPU-4": NOW + 100, "GPU-5": NOW + 100}
    short = Candidate(2, GpuRequest(2), time_limit=100)
    choice = _choose([Candidate(1, GpuRequest(4)), short], held, releases)
    assert choice.candidate.item_id == 2
    assert [gpu.index for gpu in choice.placement.gpus] == [6, 7]


def test_backfill_uses_devices_the_head_will_not_need_at_its_start():
    # The head needs 3. GPU 7 is free now; GPUs 3, 4 and 5 free at NOW+50 by their runs'
    # limits. The head keeps those three (freed last), so GPU 7 is free for anyone.
    held = _held(0, 1, 2, 3, 4, 5, 6)
    releases = {"GPU-3": NOW + 50, "GPU-4": NOW + 50, "GPU-5": NOW + 50}
    head = Candidate(1, GpuRequest(3))
    plan = reserve(head.request, EIGHT, held, releases, NOW, 1024)
    assert (plan.starts_by, plan.kept) == (NOW + 50, {"GPU-3", "GPU-4", "GPU-5"})
    choice = _choose([head, Candidate(2, GpuRequest(1))], held, releases)
    assert choice.candidate.item_id == 2
    assert [gpu.index for gpu in choice.placement.gpus] == [7]


def test_a_head_that_hangs_on_a_run_without_a_limit_keeps_every_device_it_could_use():
    held = _held(0, 1, 2, 3, 4, 5, 6)
    plan = reserve(GpuRequest(2), EIGHT, held, {}, NOW, 1024)
    assert plan.starts_by == math.inf
    assert plan.kept == {f"GPU-{i}" for i in range(8)}
    limited = Candidate(2, GpuRequest(1), time_limit=10)
    assert _choose([Candidate(1, GpuRequest(2)), limited], held) is None


def test_an_item_asking_for_no_gpus_starts_behind_a_waiting_head_only_with_backfill():
    waiting = [Candidate(1, GpuRequest(8)), Candidate(2, None)]
    assert _choose(waiting, _held(0), backfill=False) is None
    assert _choose(waiting, _held(0)).candidate.item_id == 2


def test_a_simulated_day_through_the_store_never_doubles_a_device_nor_delays_a_head():
    from kit import bench_results

    lines = bench_results("gpu_day.py")
    fifo, backfill = lines["gpu_day.fifo"], lines["gpu_day.backfill"]
    assert (fifo["double_allocations"], fifo["fifo_breaks"], fifo["late_heads"]) == (0, 0, 0)
    assert (backfill["double_allocations"], backfill["late_heads"]) == (0, 0)
    assert backfill["fifo_breaks"] > 0  # it did start later items ahead of a waiting head

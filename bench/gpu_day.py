"""A simulated day on one 8-GPU workstation: 1,000 items asking for 1, 2 or 4 GPUs, run through
the real store (claims with device rows, a unique index against double allocation, the trigger
that releases them) and the real planner (runners/gpus/backfill.py), on a fake clock.

Durations and time limits come from a fixed seed; each run's limit is 1.2–3× its duration, as
users over-estimate. Printed, as JSON lines:
  - double allocations (from the allocation rows: two live rows of one device overlapping in
    time) and FIFO breaks (with backfill off, an item starting before an earlier one);
  - heads started later than the plan said when they reached the head of the line (backfill
    must never delay the head);
  - GPU busy fraction (work / (8 × makespan)) with backfill off and on, and their ratio to an
    offline greedy packing of the same trace (whatever fits starts, in order; no reservation):
    the baseline measured in the same run.
"""

import _common  # noqa: I001  (first: fixes sys.path)

import heapq
import itertools
import random
import tempfile
import types
from pathlib import Path

import store.items
import store.runs

from runners.gpus.backfill import Candidate, choose, reserve
from runners.gpus.inventory import Gpu, Inventory
from runners.gpus.placement import GpuRequest
from store import RunState, Store

GPUS = 8
INVENTORY = Inventory(tuple(Gpu(i, f"GPU-{i}", "sim", 81920) for i in range(GPUS)))


def trace(count: int, seed: int = 13) -> list[tuple[int, float, float]]:
    """(gpus, duration, time limit) per item."""
    rng = random.Random(seed)
    items = []
    for _ in range(count):
        duration = rng.expovariate(1 / 600)
        items.append((rng.choice((1, 1, 1, 2, 2, 4)), duration, duration * rng.uniform(1.2, 3)))
    return items


class FakeClock:
    """The store's `time` module during the simulation: time.time() is the simulated now."""

    def __init__(self):
        self.now = 0.0

    def time(self) -> float:
        return self.now


def simulate(items, folder: Path, backfill: bool) -> dict:
    clock = FakeClock()
    real = store.items.time
    store.items.time = store.runs.time = types.SimpleNamespace(time=clock.time)
    try:
        return _simulate(items, folder, backfill, clock)
    finally:
        store.items.time = store.runs.time = real


def _simulate(items, folder: Path, backfill: bool, clock: FakeClock) -> dict:
    db = Store.open(folder / f"day-{backfill}.db")
    queue = db.queues.create("gpu", "local-process", {"resource_args": {}})
    version = db.jobs.create_version("sim", "image", {"image": "sim"}).version
    ids = [db.items.enqueue(queue.id, version.id, version.ref, {"i": i}) for i in range(len(items))]
    index_of = {item_id: i for i, item_id in enumerate(ids)}
    ends, started, late_heads, head_plan = [], {}, 0, {}
    waiting = list(ids)
    while waiting or ends:
        while waiting:
            held = db.gpus.held()
            releases = {a.device: a.ends_by for a in db.gpus.live() if a.ends_by}
            head = waiting[0]
            gpus, _, limit = items[index_of[head]]
            if head not in head_plan:
                plan = reserve(GpuRequest(gpus), INVENTORY, held, releases, clock.now, 1024)
                head_plan[head] = plan.starts_by
            candidates = [
                Candidate(i, GpuRequest(items[index_of[i]][0]), items[index_of[i]][2])
                for i in waiting[:64]
            ]
            choice = choose(
                candidates,
                INVENTORY,
                held,
                releases,
                now=clock.now,
                busy_above_mib=1024,
                backfill=backfill,
            )
            if choice is None:
                break
            item_id = choice.candidate.item_id
            item = db.items.lease_item(queue, item_id, "sim")
            run_id = f"r{item_id}"
            devices = [(gpu.key, gpu.index) for gpu in choice.placement.gpus]
            limit = items[index_of[item_id]][2]
            claimed = db.items.claim_with_run(
                item, "sim", run_id, "local-process", {}, devices, time_limit=limit
            )
            assert claimed, item_id
            db.runs.transition(run_id, RunState.RUNNING)
            started[item_id] = clock.now
            if item_id == head and clock.now > head_plan[head] + 1e-6:
                late_heads += 1
            waiting.remove(item_id)
            heapq.heappush(ends, (clock.now + items[index_of[item_id]][1], run_id))
        clock.now, run_id = heapq.heappop(ends)
        db.runs.transition(run_id, RunState.FINISHED)
    work = sum(g * d for g, d, _ in items)
    order = sorted(started, key=lambda i: (started[i], i))
    result = {
        "busy": work / (GPUS * clock.now),
        "double_allocations": double_allocations(db),
        "fifo_breaks": sum(1 for a, b in itertools.pairwise(order) if a > b),
        "late_heads": late_heads,
    }
    db.close()
    return result


def double_allocations(db: Store) -> int:
    """Pairs of allocation rows of one device whose [allocated, released) overlap."""
    rows = db.conn.execute(
        "SELECT device, allocated_at, released_at FROM gpu_allocations ORDER BY device,"
        " allocated_at"
    ).fetchall()
    overlaps = 0
    for before, after in itertools.pairwise(rows):
        if before[0] == after[0] and (before[2] is None or before[2] > after[1]):
            overlaps += 1
    return overlaps


def greedy(items) -> float:
    """Offline greedy packing: at each moment, every item that fits starts, in order."""
    now, free, ends, waiting = 0.0, GPUS, [], list(range(len(items)))
    while waiting or ends:
        for i in [i for i in waiting]:
            if items[i][0] <= free:
                free -= items[i][0]
                heapq.heappush(ends, (now + items[i][1], items[i][0]))
                waiting.remove(i)
        now, gpus = heapq.heappop(ends)
        free += gpus
    return sum(g * d for g, d, _ in items) / (GPUS * now)


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    items = trace(120 if args.quick else 1000)
    baseline = greedy(items)
    _common.emit("gpu_day.greedy_busy", baseline, "fraction", items=len(items), gpus=GPUS)
    with tempfile.TemporaryDirectory() as folder:
        for backfill in (False, True):
            result = simulate(items, Path(folder), backfill)
            _common.emit(
                "gpu_day.backfill" if backfill else "gpu_day.fifo",
                result["busy"],
                "fraction",
                ratio_to_greedy=result["busy"] / baseline,
                double_allocations=result["double_allocations"],
                fifo_breaks=result["fifo_breaks"],
                late_heads=result["late_heads"],
            )


if __name__ == "__main__":
    main()

"""Handing out this machine's GPUs as items are dispatched (a mixin of `Agent`).

For a queue whose target shares the workstation's GPUs (Capability.SHARES_GPUS), the agent
leases the head of the line and asks the planner (runners/gpus/backfill.py) which item may
start now and on which devices: the head when its devices are free; with the queue's
`backfill: true`, a later item that cannot delay it; else nobody, and the head goes back to its
place. The devices are written with the claim, in its transaction; the store refuses a device
another agent gave away since we looked, and the item simply waits for the next pass.

An item that waits for GPUs has no event to wake the agent when processes outside launchbay
free a device, so the agent looks again every GPU_RECHECK_SECONDS while one waits. Runs with
a `time_limit` are stopped when it ends (counted from the claim, when they got their devices).
"""

import math
import time

from runners.gpus.backfill import Candidate, choose
from runners.gpus.inventory import Gpu, Inventory
from runners.gpus.request import gpu_request
from runners.gpus.settings import GpuSettings, load_gpu_settings, load_inventory
from runners.metrics.system import gpu_points
from runners.protocol import Capability, Runner
from store import BadInput, Queue, QueueItem, RunState, Store

GPU_RECHECK_SECONDS = 5.0
GPU_SAMPLE_SECONDS = 5.0  # each run's devices: utilisation and memory, kept with the run
INVENTORY_TTL_SECONDS = 2.0  # NVML is read at most this often (utilisation, outside processes)
BACKFILL_LOOKAHEAD = 64  # later items the planner considers behind a waiting head


class GpuDispatch:
    """Picks the item to start and its devices; stops runs past their time limit."""

    _gpu_cache: tuple[float, GpuSettings, Inventory] | None = None
    _gpu_recheck_at: float = math.inf
    _gpu_sample_at: float = 0.0
    _gpu_sampling: bool = False  # this agent's runs hold GPUs: sample them

    def _pick(self, store: Store, queue: Queue) -> tuple[QueueItem, tuple[Gpu, ...]] | None:
        """Lease the item of `queue` to start now, with the devices it gets; None when the
        line waits (for GPUs) or is empty."""
        item = store.items.lease_next(queue, self.id, self.lease_seconds)
        if item is None:
            return None
        runner = _runner_or_none(queue.resource)
        if runner is None or Capability.SHARES_GPUS not in runner.capabilities:
            return item, ()
        candidates = [_candidate(item)]
        backfill = bool(queue.config.get("backfill"))
        if candidates[0].request is None:
            return item, ()
        try:
            settings, inventory = self._gpu_inventory()
        except BadInput as exc:  # the config file's gpus: keys; every GPU item waits for a fix
            store.items.unlease(item.id, self.id)
            self._record_error(store, f"GPUs not handed out: {exc}")
            self._gpu_recheck_at = time.monotonic() + GPU_RECHECK_SECONDS
            return None
        if backfill:
            later = [
                i for i in store.items.waiting(queue.id)[:BACKFILL_LOOKAHEAD] if i.id != item.id
            ]
            now = time.time()  # a retry in its backoff can't start: no candidate
            candidates += [
                _candidate(i)
                for i in later
                if i.state.value == "pending" and (i.not_before or 0) <= now
            ]
        live = store.gpus.live()
        choice = choose(
            candidates,
            inventory,
            {a.device: a.run_id for a in live},
            {a.device: a.ends_by for a in live if a.ends_by is not None},
            now=time.time(),
            busy_above_mib=settings.gpu_busy_above_mib,
            backfill=backfill,
        )
        if choice is None or choice.candidate.item_id != item.id:
            store.items.unlease(item.id, self.id)
            self._gpu_recheck_at = time.monotonic() + GPU_RECHECK_SECONDS
        if choice is None:
            return None
        if choice.candidate.item_id != item.id:
            item = store.items.lease_item(queue, choice.candidate.item_id, self.id)
            if item is None:
                return None  # cancelled meanwhile: the next pass plans again
        if choice.placement.gpus:
            self._gpu_sampling = True
        return item, choice.placement.gpus

    def _gpu_inventory(self) -> tuple[GpuSettings, Inventory]:
        now = time.monotonic()
        if self._gpu_cache is None or now - self._gpu_cache[0] > INVENTORY_TTL_SECONDS:
            settings = load_gpu_settings()
            self._gpu_cache = (now, settings, load_inventory(settings))
        return self._gpu_cache[1], self._gpu_cache[2]

    def _gpu_wake_at(self) -> float:
        """When the agent must look again for waiting GPU items (monotonic), if ever."""
        at, self._gpu_recheck_at = self._gpu_recheck_at, math.inf
        return at

    def _gpu_housekeeping(self, store: Store) -> float:
        """Stop runs past their time limit and, every GPU_SAMPLE_SECONDS while this agent's
        runs hold GPUs, sample their devices; when to come back (monotonic). Nothing is read
        from the store on the passes in between."""
        limits_end = self._stop_runs_past_their_limit(store)
        now = time.monotonic()
        if now >= self._gpu_sample_at:
            self._gpu_sample_at = now + GPU_SAMPLE_SECONDS
            self._gpu_sampling = self._sample_gpus(store)
        return min(limits_end, self._gpu_sample_at) if self._gpu_sampling else limits_end

    def _sample_gpus(self, store: Store) -> bool:
        """Record each device's reading for the run holding it; whether any run holds one."""
        mine = [a for a in store.gpus.live() if a.run_id in self.live]
        if not mine:
            return False
        try:
            _, inventory = self._gpu_inventory()
        except BadInput:
            return True  # said where GPUs are handed out; sampled again once it is fixed
        samples = []
        for allocation in mine:
            gpu = inventory.by_key.get(allocation.device)
            if gpu is not None:
                samples.append(
                    (allocation.run_id, gpu.key, gpu.utilization_percent, gpu.memory_used_mib)
                )
        now = time.time()
        store.gpus.record_samples(samples, now)
        for run_id in {allocation.run_id for allocation in mine}:
            held = [allocation for allocation in mine if allocation.run_id == run_id]
            store.metrics.append(run_id, gpu_points(held, inventory, at=now))  # sys/gpuN/…
        return True

    def _stop_runs_past_their_limit(self, store: Store) -> float:
        """Ask runs whose time limit has ended to stop; when the next limit ends (monotonic)."""
        soonest = math.inf
        now = time.time()
        for live in list(self.live.values()):
            limit = (live.spec.get("resource_args") or {}).get("time_limit")
            if not limit or live.stop_wanted:
                continue
            run = store.runs.get(live.run_id)
            ends = run.created_at + limit
            if ends > now:
                soonest = min(soonest, ends)
            elif not run.state.is_terminal() and run.state is not RunState.STOPPING:
                store.runs.request_stop(live.run_id, f"time limit reached ({_show(limit)})")
        return time.monotonic() + (soonest - now) if math.isfinite(soonest) else math.inf


def _candidate(item: QueueItem) -> Candidate:
    try:
        args = item.launch.get("resource_args") or {}
        return Candidate(item.id, gpu_request(args), args.get("time_limit"))
    except Exception:  # a launch that can't even be read: _launch fails it at stage agent
        return Candidate(item.id, None)


def _runner_or_none(resource: str) -> Runner | None:
    from runners.registry import get_runner

    try:
        return get_runner(resource)
    except BadInput:
        return None  # _launch fails the item saying why


def _show(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"

"""System metrics of a live run, as Points under `sys/`: what the machine sees the run use.

Three samplers, one per kind of run, each a plain read that never raises for a run that has
gone (it gives no points):

- `ProcessSampler(pid, start_time).sample()`: a local process and all its descendants, through
  psutil. CPU % is a rate, so it needs the previous sample: keep one sampler per run.
- `container_points(api, container_id)`: a docker container, from one Docker stats reading,
  computed as `docker stats` does.
- `gpu_points(allocations, inventory)`: the devices a run holds, from the agent's NVML reading.

CPU % is of one core, as top and `docker stats` show it: a run busy on two cores shows 200.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import psutil

from runners.metrics.sources import Point
from runners.system import procinfo

if TYPE_CHECKING:
    from runners.gpus.inventory import Inventory
    from store.gpus import GpuAllocation

MIB = 1024 * 1024

CPU_PERCENT = "sys/cpu_percent"
MEMORY_RSS_MIB = "sys/memory_rss_mib"
MEMORY_MIB = "sys/memory_mib"  # a container's memory as `docker stats` counts it (no page cache)
PROCESSES = "sys/processes"
THREADS = "sys/threads"


class ProcessSampler:
    """Samples one local-process run: the process `pid` started at `start_time` (clock ticks
    since boot, as runners.system.procinfo reads it and the local runner's handle stores it;
    None: whichever process has the pid at the first sample) and every descendant, summed.

    Points: `sys/cpu_percent` (from the second sample on), `sys/memory_rss_mib`,
    `sys/processes`, `sys/threads`. RSS is summed per process, so pages a forked child shares
    with its parent count twice (what top shows; PSS would need /proc/*/smaps, ten times dearer).
    """

    def __init__(self, pid: int, start_time: int | None = None):
        self.pid = pid
        self.start_time = start_time
        self._root: psutil.Process | None = None
        self._gone = False
        self._previous: tuple[float, float] | None = None  # (monotonic, tree CPU seconds)

    def sample(self) -> list[Point]:
        """The tree's readings now; [] once the process has ended or its pid is another's."""
        root = self._live_root()
        if root is None:
            return []
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:  # the root ended while its children were being listed
            self._gone = True
            return []
        now, at = time.monotonic(), time.time()
        cpu_seconds, rss, threads, counted = _tree_totals(tree)
        points = [
            Point(MEMORY_RSS_MIB, rss / MIB, at=at),
            Point(PROCESSES, float(counted), at=at),
            Point(THREADS, float(threads), at=at),
        ]
        if self._previous is not None and now > self._previous[0]:
            elapsed, used = now - self._previous[0], cpu_seconds - self._previous[1]
            # Negative when a descendant's time left the tree unreaped (its parent ignores
            # SIGCHLD): read as idle rather than as a negative load.
            points.insert(0, Point(CPU_PERCENT, max(0.0, used) / elapsed * 100, at=at))
        self._previous = (now, cpu_seconds)
        return points

    def _live_root(self) -> psutil.Process | None:
        # Checked by start time on every sample: the pid may have been reused since the last.
        if self._gone:
            return None
        started = procinfo.start_time(self.pid)  # None: gone, or a zombie (the run has ended)
        if started is None or (self.start_time is not None and started != self.start_time):
            self._gone = True
            return None
        if self._root is None:
            self.start_time = started
            try:
                self._root = psutil.Process(self.pid)
            except psutil.Error:
                self._gone = True
        return self._root


def _tree_totals(tree: list[psutil.Process]) -> tuple[float, int, int, int]:
    """(CPU seconds, RSS bytes, threads, processes) summed over the processes still there.

    CPU seconds include each process's reaped children (`children_user`/`children_system`):
    a child that ran and was waited for between two samples moves its time into its parent's,
    so it still counts, where per-process psutil.cpu_percent() would lose it.
    """
    cpu = 0.0
    rss = threads = counted = 0
    for process in tree:
        try:
            with process.oneshot():
                times = process.cpu_times()
                rss += process.memory_info().rss
                threads += process.num_threads()
        except psutil.Error:  # ended (or unreadable) since the tree was listed: not counted
            continue
        cpu += times.user + times.system + times.children_user + times.children_system
        counted += 1
    return cpu, rss, threads, counted


def container_points(api, container_id: str) -> list[Point]:
    """A container's CPU %, memory (MiB) and process count now, from one stats reading of the
    Docker engine (`api`: docker.APIClient). [] when the container is gone or not running.

    The engine answers after its next collection (it reads every second): a call blocks for
    1–2 s of waiting, with next to no CPU, so call it from a thread, not the agent's loop.
    Errors reaching the engine itself are raised, for the caller to report.
    """
    from docker.errors import NotFound

    try:
        stats = api.stats(container_id, stream=False)
    except NotFound:
        return []
    return points_from_stats(stats, time.time())


def points_from_stats(stats: dict, at: float) -> list[Point]:
    """The points of one Docker stats reading (the engine's JSON), as `docker stats` computes
    them: CPU % over the reading's own interval, memory without the inactive page cache."""
    if stats.get("read", "").startswith("0001-"):  # the engine's zero time: not running
        return []
    points = []
    cpu = _cpu_percent(stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {})
    if cpu is not None:
        points.append(Point(CPU_PERCENT, cpu, at=at))
    memory = _memory_bytes(stats.get("memory_stats") or {})
    if memory is not None:
        points.append(Point(MEMORY_MIB, memory / MIB, at=at))
    pids = (stats.get("pids_stats") or {}).get("current")
    if pids is not None:
        points.append(Point(PROCESSES, float(pids), at=at))
    return points


def _cpu_percent(now: dict, before: dict) -> float | None:
    # docker/cli calculateCPUPercentUnix: the container's share of the host's CPU time over
    # the interval, times the CPUs online, so that one busy core reads 100.
    if "system_cpu_usage" not in now or "system_cpu_usage" not in before:
        return None  # the first reading of a container has no interval yet
    system_delta = now["system_cpu_usage"] - before["system_cpu_usage"]
    if system_delta <= 0:
        return None
    usage, previous = now.get("cpu_usage") or {}, before.get("cpu_usage") or {}
    cpu_delta = usage.get("total_usage", 0) - previous.get("total_usage", 0)
    online = now.get("online_cpus") or len(usage.get("percpu_usage") or ()) or 1
    return max(0, cpu_delta) / system_delta * online * 100


def _memory_bytes(memory: dict) -> int | None:
    # docker/cli calculateMemUsageUnixNoCache: usage less the inactive page cache, which the
    # kernel drops first (total_inactive_file under cgroup v1, inactive_file under v2).
    usage = memory.get("usage")
    if usage is None:
        return None
    stats = memory.get("stats") or {}
    cache = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    return usage - cache if cache < usage else usage


def gpu_points(
    allocations: list[GpuAllocation], inventory: Inventory, at: float | None = None
) -> list[Point]:
    """Per device in `allocations` (one run's), its utilisation % and memory used (MiB) in
    `inventory` (read_nvml(), the reading the agent takes anyway), under
    `sys/gpu{index}/…` with the machine's NVML index (what `launchbay gpus` shows).

    Both are the device's, not the run's alone: a device is held by one run at a time, so
    they are the run's unless something outside launchbay uses it too. A device missing from
    the reading, or a figure NVML can't give, gives no point.
    """
    at = time.time() if at is None else at
    points = []
    for allocation in allocations:
        gpu = inventory.by_key.get(allocation.device)
        if gpu is None:
            continue
        prefix = f"sys/gpu{gpu.index}"
        busy = gpu.utilization_percent
        if busy is not None:
            points.append(Point(f"{prefix}/utilization_percent", float(busy), at=at))
        points.append(Point(f"{prefix}/memory_used_mib", float(gpu.memory_used_mib), at=at))
    return points

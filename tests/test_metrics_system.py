"""System metrics of live runs: a local process tree through psutil, a container through the
Docker stats API, and the GPUs a run holds from the agent's NVML reading."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from kit import BUSYBOX, PYTHON, wait_for

from runners.gpus.inventory import Gpu, Inventory
from runners.metrics.system import (
    ProcessSampler,
    container_points,
    gpu_points,
    points_from_stats,
)
from runners.system import procinfo
from store.gpus import GpuAllocation

# A root that only waits, so that whatever the tree uses is its descendants'.
SPAWN_CHILD = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', sys.argv[1]]).wait()"
BUSY = "while True: pass"
ALLOCATE_200_MIB = (
    "import sys; data = b'x' * (200 * 1024 * 1024); print('ready', flush=True); sys.stdin.read()"
)
HOLD_200_MIB = (
    "import time; data = b'x' * (200 * 2**20); print('ready', flush=True); time.sleep(600)"
)
# Runs a child burning 0.3 s of CPU to its end, waits for it, and says so, when told to.
RUN_A_CHILD_WHEN_TOLD = """
import subprocess, sys
sys.stdin.readline()
burn = "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.3: pass"
subprocess.run([sys.executable, "-c", burn])
print("done", flush=True)
sys.stdin.readline()
"""


@contextlib.contextmanager
def process(*args):
    """A Python process (its own session) with pipes to it; it and its tree killed after."""
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def values(points) -> dict[str, float]:
    return {point.key: point.value for point in points}


def cpu_seconds_of(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def test_a_busy_child_shows_in_the_trees_cpu_percent():
    with process("-c", SPAWN_CHILD, BUSY) as root:
        (child,) = wait_for(lambda: psutil.Process(root.pid).children(), what="the child")
        sampler = ProcessSampler(root.pid, procinfo.start_time(root.pid))
        first = values(sampler.sample())
        burnt = cpu_seconds_of(child.pid)
        wait_for(lambda: cpu_seconds_of(child.pid) >= burnt + 0.2, what="the child to burn CPU")
        second = values(sampler.sample())
    assert "sys/cpu_percent" not in first  # a rate: nothing to compare with yet
    assert second["sys/cpu_percent"] > 0
    assert second["sys/processes"] == 2
    assert second["sys/threads"] >= 2


def test_a_child_that_ran_and_ended_between_two_samples_still_counts():
    with process("-c", RUN_A_CHILD_WHEN_TOLD) as root:
        sampler = ProcessSampler(root.pid, procinfo.start_time(root.pid))
        started = time.monotonic()
        sampler.sample()
        root.stdin.write("go\n")
        root.stdin.flush()
        assert root.stdout.readline() == "done\n"
        cpu_percent = values(sampler.sample())["sys/cpu_percent"]
        elapsed = time.monotonic() - started  # at least the interval between the samples
    # The child is gone from the tree; its 0.3 s of CPU moved into its parent's reaped time.
    assert cpu_percent / 100 * elapsed >= 0.3


def test_memory_a_descendant_allocates_is_in_the_trees_rss():
    with process("-c", SPAWN_CHILD, ALLOCATE_200_MIB) as root:
        assert root.stdout.readline() == "ready\n"  # the child's, through the inherited pipe
        readings = values(ProcessSampler(root.pid, procinfo.start_time(root.pid)).sample())
    assert readings["sys/memory_rss_mib"] >= 200
    assert readings["sys/processes"] == 2


def test_a_process_that_has_ended_gives_nothing():
    with process("-c", "import sys; sys.stdin.readline()") as root:
        sampler = ProcessSampler(root.pid, procinfo.start_time(root.pid))
        assert values(sampler.sample())["sys/processes"] == 1
        root.stdin.write("end\n")
        root.stdin.flush()
        # Ended and not yet reaped (a zombie): the run is over, so nothing.
        os.waitid(os.P_PID, root.pid, os.WEXITED | os.WNOWAIT)
        assert sampler.sample() == []
        root.wait()
        assert sampler.sample() == []
        assert ProcessSampler(root.pid).sample() == []


def test_a_pid_now_another_processs_gives_nothing():
    with process("-c", "import sys; sys.stdin.read()") as other:
        recycled = ProcessSampler(other.pid, procinfo.start_time(other.pid) - 1)
        assert recycled.sample() == []


@pytest.fixture
def container(engine):
    """Start a container from (image, command); removed after the test."""
    made = []

    def start(image: str, command: str) -> str:
        host_config = engine.api.create_host_config(network_mode="none")
        created = engine.api.create_container(image, command, host_config=host_config)
        made.append(created["Id"])
        engine.api.start(created["Id"])
        return created["Id"]

    yield start
    for container_id in made:
        with contextlib.suppress(Exception):  # gone already where the test removed it
            engine.api.remove_container(container_id, force=True)


def test_a_busy_container_shows_cpu_percent(engine, container):
    container_id = container(BUSYBOX, "sh -c 'yes > /dev/null'")
    readings = wait_for(
        lambda: (
            (p := values(container_points(engine.api, container_id))).get("sys/cpu_percent") and p
        ),
        what="a CPU reading above 0",
    )
    assert readings["sys/cpu_percent"] > 0
    assert readings["sys/processes"] >= 1


def test_a_containers_memory_counts_what_it_allocates(engine, container):
    container_id = container(PYTHON, ["python3", "-c", HOLD_200_MIB])
    wait_for(lambda: b"ready" in engine.api.logs(container_id), what="the allocation")
    readings = values(container_points(engine.api, container_id))
    assert readings["sys/memory_mib"] >= 200


def test_a_container_that_has_ended_or_gone_gives_nothing(engine, container):
    container_id = container(BUSYBOX, "true")
    engine.api.wait(container_id, timeout=60)
    assert container_points(engine.api, container_id) == []
    engine.api.remove_container(container_id, force=True)
    assert container_points(engine.api, container_id) == []


def test_a_cgroup_v2_reading_leaves_out_inactive_file_and_a_first_reading_has_no_cpu():
    # What an engine on cgroup v2 answers (this machine's is v1): no total_* counters.
    reading = {
        "read": "2026-12-02T21:25:39.783102012Z",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000_000_000},
            "system_cpu_usage": 20_000_000_000,
            "online_cpus": 4,
        },
        "precpu_stats": {
            "cpu_usage": {"total_usage": 2_000_000_000},
            "system_cpu_usage": 16_000_000_000,
        },
        "memory_stats": {"usage": 300 * 2**20, "stats": {"inactive_file": 100 * 2**20}},
        "pids_stats": {"current": 3},
    }
    assert values(points_from_stats(reading, at=1.0)) == {
        "sys/cpu_percent": 100.0,  # 1 s of CPU over 4 s of the host's 4 CPUs: one core
        "sys/memory_mib": 200.0,
        "sys/processes": 3.0,
    }
    del reading["precpu_stats"]["system_cpu_usage"]
    assert "sys/cpu_percent" not in values(points_from_stats(reading, at=1.0))


def _allocation(device: str, index: int) -> GpuAllocation:
    return GpuAllocation(device, index, "k3x9mf2a", allocated_at=0.0, ends_by=None)


def test_gpu_points_give_each_held_devices_utilisation_and_memory():
    inventory = Inventory(
        (
            Gpu(0, "GPU-aaa", "A100", 81920, memory_used_mib=30000, utilization_percent=87),
            Gpu(1, None, "RTX 4090", 24564, memory_used_mib=1200, utilization_percent=None),
            Gpu(2, "GPU-ccc", "A100", 81920, memory_used_mib=5, utilization_percent=0),
        )
    )
    held = [_allocation("GPU-aaa", 0), _allocation("1", 1), _allocation("GPU-gone", 3)]
    points = gpu_points(held, inventory, at=12.5)
    assert [(p.key, p.value, p.at) for p in points] == [
        ("sys/gpu0/utilization_percent", 87.0, 12.5),
        ("sys/gpu0/memory_used_mib", 30000.0, 12.5),
        ("sys/gpu1/memory_used_mib", 1200.0, 12.5),  # NVML gave no utilisation for it
    ]
    assert gpu_points([], inventory) == []

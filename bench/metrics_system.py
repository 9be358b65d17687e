"""What one system-metrics sample costs the agent: a local process tree of 20 processes
(ProcessSampler.sample), one docker container (container_points: wall time, most of it waiting
for the engine's once-a-second collection, and this process's CPU time), and gpu_points over
an 8-device reading. Medians over N samples; needs the Docker engine of scripts/test.sh.
"""

import _common  # noqa: I001  (first: fixes sys.path so that `queue` is the stdlib's)

import statistics
import subprocess
import sys
import time

import psutil

from runners.gpus.inventory import Gpu, Inventory
from runners.metrics.system import ProcessSampler, container_points, gpu_points
from store.gpus import GpuAllocation

# A root with 19 children, each waiting on its stdin: 20 processes that stay put.
TREE = (
    "import subprocess, sys\n"
    "kids = [subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'],"
    " stdin=subprocess.PIPE) for _ in range(19)]\n"
    "print('ready', flush=True)\n"
    "sys.stdin.read()\n"
)


def timed(call, n: int) -> tuple[float, float]:
    """Median wall and CPU (this process) milliseconds of `call()`."""
    walls, cpus = [], []
    for _ in range(n):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def process_tree(n: int) -> None:
    root = subprocess.Popen(
        [sys.executable, "-c", TREE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert root.stdout.readline() == "ready\n"
        sampler = ProcessSampler(root.pid)
        wall, cpu = timed(sampler.sample, n)
        _common.emit(
            "process_tree_sample", wall, "ms", cpu_ms=cpu, processes=20,
            processes_on_machine=len(psutil.pids()), n=n,
        )  # fmt: skip
    finally:
        root.stdin.close()
        for child in psutil.Process(root.pid).children(recursive=True):
            child.kill()
        root.kill()
        root.wait()


def container(n: int) -> None:
    import docker

    client = docker.from_env(timeout=60)
    host_config = client.api.create_host_config(network_mode="none")
    created = client.api.create_container(
        "local/busybox:latest", "sleep 600", host_config=host_config
    )
    try:
        client.api.start(created["Id"])
        wall, cpu = timed(lambda: container_points(client.api, created["Id"]), n)
        _common.emit("container_sample", wall, "ms", cpu_ms=cpu, n=n)
    finally:
        client.api.remove_container(created["Id"], force=True)
        client.close()


def gpus(n: int) -> None:
    inventory = Inventory(tuple(Gpu(i, f"GPU-{i}", "H100", 81920, 100, 50) for i in range(8)))
    held = [GpuAllocation(f"GPU-{i}", i, "run", 0.0, None) for i in range(8)]
    wall, cpu = timed(lambda: gpu_points(held, inventory), n * 100)
    _common.emit("gpu_points_8_devices", wall, "ms", cpu_ms=cpu, n=n * 100)


def main() -> None:
    args = _common.parse_args(__doc__)
    n = 3 if args.quick else 20
    process_tree(n * 5)
    container(max(2, n // 4))  # each waits 1-2 s on the engine
    gpus(n)


if __name__ == "__main__":
    main()

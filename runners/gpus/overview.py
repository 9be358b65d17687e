"""Each device now, with the run holding it: what `launchbay gpus` and the GPUs screen show."""

from __future__ import annotations

from dataclasses import dataclass

from store import Store

from .inventory import Gpu, Inventory
from .placement import busy_outside
from .settings import GpuSettings, load_inventory


@dataclass(frozen=True)
class DeviceNow:
    gpu: Gpu
    run_id: str | None  # the run holding it, if any
    busy_outside: str | None  # why it counts as busy though no run holds it, if it does

    def to_json(self) -> dict:
        gpu = self.gpu
        return {
            "index": gpu.index,
            "uuid": gpu.uuid,
            "name": gpu.name,
            "memory_used_mib": gpu.memory_used_mib,
            "memory_total_mib": gpu.memory_total_mib,
            "utilization_percent": gpu.utilization_percent,
            "run_id": self.run_id,
            "processes": [{"pid": p.pid, "used_mib": p.used_mib} for p in gpu.processes],
            "busy_outside_launchbay": self.busy_outside,
        }


def devices_now(store: Store, settings: GpuSettings) -> tuple[Inventory, list[DeviceNow]]:
    inventory = load_inventory(settings)
    held = store.gpus.held()
    return inventory, [
        DeviceNow(
            gpu,
            held.get(gpu.key),
            None if gpu.key in held else busy_outside(gpu, settings.gpu_busy_above_mib),
        )
        for gpu in inventory.gpus
    ]


def free_now(store: Store, settings: GpuSettings) -> str | None:
    """`GPUs free now: 2 of 4` (what the launch form shows beside a GPU queue's preview); None
    on a machine without GPUs (a launch asking for some is refused, saying why)."""
    _, devices = devices_now(store, settings)
    if not devices:
        return None
    free = sum(1 for device in devices if device.run_id is None and not device.busy_outside)
    return f"GPUs free now: {free} of {len(devices)}"


def free_for_queue(store: Store, queue_name: str) -> str | None:
    """free_now for a queue whose runs get this machine's GPUs; None for any other queue, or
    one that doesn't exist (the launch form's preview says what is wrong)."""
    from runners.protocol import Capability
    from runners.registry import get_runner
    from store import BadInput

    from .settings import load_gpu_settings

    try:
        queue = store.queues.get(queue_name)
        if Capability.SHARES_GPUS not in get_runner(queue.resource).capabilities:
            return None
        return free_now(store, load_gpu_settings())
    except BadInput:
        return None

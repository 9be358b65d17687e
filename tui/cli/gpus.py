"""`launchbay gpus`: the GPUs the agent hands out, how busy each is now, and who holds it."""

import click

from .common import db_option, json_option, with_store
from .output import note, print_json, print_table


@click.command("gpus")
@json_option
@db_option
@with_store
def gpus_command(store, as_json):
    """List the GPUs launchbay hands out: memory and utilisation now, and the run holding each.

    The devices are NVML's (the NVIDIA driver), or those the config file's `gpus:` declares
    or keeps; a device busy with processes launchbay did not start counts as busy above
    `gpu_busy_above_mib` (1024 MiB by default)."""
    from runners.gpus.overview import devices_now
    from runners.gpus.settings import load_gpu_settings

    inventory, devices = devices_now(store, load_gpu_settings())
    if as_json:
        print_json(
            {
                "source": inventory.source,
                "note": inventory.note,
                "gpus": [device.to_json() for device in devices],
            }
        )
        return
    if inventory.note:
        note(inventory.note)
    print_table(
        ["gpu", "name", "memory", "util", "run", "outside launchbay"],
        [_row(device) for device in devices],
        empty="(no GPUs)",
    )


def _row(device) -> tuple:
    gpu = device.gpu
    util = "-" if gpu.utilization_percent is None else f"{gpu.utilization_percent}%"
    outside = ", ".join(str(p.pid) for p in gpu.processes) if device.run_id is None else ""
    return (
        gpu.index,
        gpu.name,
        f"{gpu.memory_used_mib}/{gpu.memory_total_mib} MiB",
        util,
        device.run_id,
        (outside + " (busy)" if device.busy_outside else outside) or None,
    )

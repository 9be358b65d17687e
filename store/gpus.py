"""GPU allocations: which run holds which device, one row per device per run.

A device is held while its row has no `released_at`. A partial unique index makes a second
live row for the same device impossible, whichever agent or process tries, and a trigger on
`runs.ended_at` releases a run's devices in the same statement that ends it, whatever path
ends it (the agent, recovery after a crash, a cancel).
"""

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuAllocation:
    device: str  # the device's UUID, or its index where a declared inventory names no UUID
    index: int
    run_id: str
    allocated_at: float
    ends_by: float | None  # when the run's time limit frees the device, if it has one
    sampled_at: float | None = None  # the latest sample of the device while the run held it
    utilization_percent: int | None = None
    memory_used_mib: int | None = None


_COLUMNS = (
    "device, device_index, run_id, allocated_at, ends_by, sampled_at, utilization_percent,"
    " memory_used_mib"
)


class GpuAllocationStore:
    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def held(self) -> dict[str, str]:
        """Device key → the run holding it, for every live allocation."""
        rows = self._conn.execute(
            "SELECT device, run_id FROM gpu_allocations WHERE released_at IS NULL"
        )
        return {device: run_id for device, run_id in rows}

    def live(self) -> list[GpuAllocation]:
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM gpu_allocations"
            " WHERE released_at IS NULL ORDER BY device_index"
        )
        return [GpuAllocation(*row) for row in rows]

    def of_run(self, run_id: str) -> list[GpuAllocation]:
        """The devices `run_id` was given (held or since released), by index."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM gpu_allocations WHERE run_id = ? ORDER BY device_index",
            (run_id,),
        )
        return [GpuAllocation(*row) for row in rows]

    def record_samples(self, samples: list[tuple[str, str, int | None, int | None]], at: float):
        """(run id, device, utilisation %, memory used MiB) as sampled at `at`, for devices
        the run still holds."""
        self._conn.executemany(
            "UPDATE gpu_allocations SET sampled_at = ?, utilization_percent = ?,"
            " memory_used_mib = ? WHERE run_id = ? AND device = ? AND released_at IS NULL",
            [(at, util, memory, run_id, device) for run_id, device, util, memory in samples],
        )

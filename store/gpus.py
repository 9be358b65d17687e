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
            "SELECT device, device_index, run_id, allocated_at, ends_by FROM gpu_allocations"
            " WHERE released_at IS NULL ORDER BY device_index"
        )
        return [GpuAllocation(*row) for row in rows]

    def of_run(self, run_id: str) -> list[GpuAllocation]:
        """The devices `run_id` was given (held or since released), by index."""
        rows = self._conn.execute(
            "SELECT device, device_index, run_id, allocated_at, ends_by FROM gpu_allocations"
            " WHERE run_id = ? ORDER BY device_index",
            (run_id,),
        )
        return [GpuAllocation(*row) for row in rows]

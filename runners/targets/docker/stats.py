"""A docker run's CPU and memory as the engine measures them (`docker stats`), for its `sys/`
metrics. The engine answers a one-shot stats call only after its next collection (1–2 s of
waiting), so a thread follows the engine's stats stream instead and keeps the latest reading;
sampling it costs nothing. The thread ends when the container stops running."""

from __future__ import annotations

import threading
import time

from runners.metrics.sources import Point
from runners.metrics.system import points_from_stats
from runners.targets.docker import sdk
from store import Stage


class ContainerStats:
    def __init__(self, container_id: str):
        self.container_id = container_id
        self._latest: dict | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def sample(self) -> list[Point]:
        """The latest reading's points ([] before the first one and once the container is
        gone); the first call starts following the stream."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._follow, name=f"stats-{self.container_id[:12]}", daemon=True
            )
            self._thread.start()
        with self._lock:
            latest, self._latest = self._latest, None
        return points_from_stats(latest, time.time()) if latest else []

    def _follow(self) -> None:
        try:
            api = sdk.engine(Stage.RUN).api
            for reading in api.stats(self.container_id, stream=True, decode=True):
                if reading.get("read", "").startswith("0001-"):
                    return  # the engine's zero time: the container no longer runs
                with self._lock:
                    self._latest = reading
        except Exception:  # gone, or the engine went away: no more samples, never a crash
            return

"""A pool of daemon threads that reuses idle ones.

Each live run holds a thread for as long as it runs (it blocks in `runner.wait`), so the pool
grows to the number of live runs; starting a thread costs milliseconds under load, so finished
runs hand theirs to the next. Daemon threads: a headless agent exits at once on ctrl-c, leaving
its runs to be re-adopted, instead of waiting for them as ThreadPoolExecutor would.
"""

import queue
import threading
from collections.abc import Callable


class DaemonPool:
    def __init__(self, name: str):
        self._name = name
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0

    def submit(self, func: Callable, *args) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1  # that idle worker will take this task
            else:
                self._started += 1
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{self._started}", daemon=True
                )
                thread.start()
        self._tasks.put((func, args))

    def _work(self) -> None:
        while True:
            func, args = self._tasks.get()
            try:
                func(*args)
            finally:
                with self._lock:
                    self._idle += 1

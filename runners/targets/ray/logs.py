"""Following a Ray job's output into the run's log: the client's log tail while the job runs,
then its whole log read once at the end.

Why the tail (a websocket, `tail_job_logs`) while the job runs: the Jobs API's `get_job_logs`
has no offset, so polling it would fetch the whole log again each time; the tail pushes the
lines as the job prints them. Why one `get_job_logs` at the end: the tail closes only a few
seconds after the job ends (the head checks the job's state once a second, twice), and a run's
end waits for its last lines. Every read sends the output from its start: the bytes already
copied are counted in a cursor file beside the log (runners.runlog.cursor.OffsetCopier), so a
reconnection, the last read, or a restarted agent copies each line once. A cut connection (the
head restarting, lost) is reconnected with backoff until the run ends.
"""

import asyncio
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

from runners.runlog.cursor import OffsetCopier
from runners.runlog.logfile import note_in_log
from runners.targets.ray import sdk
from runners.targets.remote import Backoff, FollowerThread

CURSOR_FILE = "ray_log_cursor"


class RayLogFollower(FollowerThread):
    def __init__(self, client: Callable[[], object], submission_id: str, log_path: Path, run_dir):
        super().__init__(f"launchbay-ray-logs-{submission_id[-8:]}")
        self._client = client  # the runner's client for the queue's address (made on demand)
        self._submission_id = submission_id
        self._log_path = log_path
        self._cursor_path = Path(run_dir) / CURSOR_FILE
        # Ray's own line naming the command it runs: the args may hold a secret, and the run's
        # description shows the command with its secrets hidden.
        self._ray_command_line = f"Running entrypoint for job {submission_id}: ".encode()
        self._lock = threading.Lock()
        self._wake_tail: Callable[[], None] | None = None  # ends the tail's wait, from finish()

    def finish(self) -> None:
        super().finish()
        with self._lock:
            wake = self._wake_tail
        if wake is not None:
            wake()

    def follow(self) -> None:
        copier = OffsetCopier(
            self._log_path,
            self._cursor_path,
            drop=lambda line: line.startswith(self._ray_command_line),
        )
        backoff = Backoff(first=0.5, most=5.0, stop=self.job_ended)
        try:
            while not self.job_ended.is_set():
                copier.restart()
                try:
                    if asyncio.run(self._tail_until_the_end(copier)):
                        copier.flush()
                        return  # the tail ended by itself: the job has ended, its lines are in
                except sdk.log_tail_errors():
                    backoff.sleep()
            self._read_the_rest(copier)
        finally:
            copier.close()

    async def _tail_until_the_end(self, copier: OffsetCopier) -> bool:
        """Copy the tail until it ends by itself (True) or the run's end is signalled (False)."""
        loop, ended = asyncio.get_running_loop(), asyncio.Event()
        with self._lock:
            self._wake_tail = lambda: loop.call_soon_threadsafe(ended.set)
        try:
            if self.job_ended.is_set():  # signalled before the wake-up was in place
                return False
            tail = asyncio.ensure_future(self._tail(copier))
            waiting = asyncio.ensure_future(ended.wait())
            done, _ = await asyncio.wait({tail, waiting}, return_when=asyncio.FIRST_COMPLETED)
            for task in (tail, waiting):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tail  # its connection closed before the loop is
            return tail in done and tail.result() is None
        finally:
            with self._lock:
                self._wake_tail = None

    async def _tail(self, copier: OffsetCopier) -> None:
        async for chunk in self._client().tail_job_logs(self._submission_id):
            copier.feed(chunk.encode())

    def _read_the_rest(self, copier: OffsetCopier) -> None:
        """The job has ended: its whole log once, copied on from the cursor."""
        copier.restart()
        try:
            copier.feed(self._client().get_job_logs(self._submission_id).encode())
        except (*sdk.unreachable_errors(), RuntimeError) as exc:
            note_in_log(
                self._log_path,
                f"could not read the last lines of Ray job {self._submission_id}:"
                f" {sdk.describe(exc)}",
            )
            return
        copier.flush()

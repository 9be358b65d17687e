"""Following a slurm job's output file (on the cluster's shared filesystem, read here or over
ssh) into the run's log, each line once across agent restarts.

The output file only grows, so the cursor is a byte offset: the file's bytes up to the last
whole line are appended to the log, then the cursor records the offset reached and the log's
size. An agent killed between those two writes leaves the log longer than the cursor says; the
next follower finds the job's bytes among that unrecorded tail and skips them (the same
promise as runners/runlog/cursor.py gives timestamped output).
"""

import os
import threading
from pathlib import Path

from runners.runlog.logfile import open_append
from runners.targets.remote import FollowerThread

CHUNK = 4 << 20  # read at most this much a time (a job printing fast, over ssh)


class OffsetCursor:
    """`OFFSET LOGSIZE` in a file beside the log, rewritten in place after each copy."""

    def __init__(self, path: Path):
        self.path = path
        try:
            words = path.read_text().split()
            self.offset, self.log_size = int(words[0]), int(words[1])
        except (FileNotFoundError, ValueError, IndexError):
            self.offset, self.log_size = 0, None
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)

    def record(self, offset: int, log_size: int) -> None:
        os.pwrite(self._fd, f"{offset:020d} {log_size:020d}".encode(), 0)
        self.offset, self.log_size = offset, log_size

    def close(self) -> None:
        os.close(self._fd)


class OutputFollower(FollowerThread):
    """Copies the job's output file into the run's log every `every` seconds, and once more
    after the job's end."""

    def __init__(self, cluster, output: str, log_path: Path, cursor_path: Path, every: float):
        super().__init__(f"launchbay-slurm-{Path(output).parent.name[-8:]}")
        self._cluster = cluster
        self._output = output
        self._log_path = log_path
        self._cursor_path = cursor_path
        self._every = every
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def follow(self) -> None:
        cursor = OffsetCursor(self._cursor_path)
        log_fd = open_append(self._log_path)
        try:
            unrecorded = self._unrecorded(cursor, log_fd)
            while not self._stop.is_set():
                ended = self.job_ended.is_set()
                try:
                    unrecorded = self._copy(cursor, log_fd, unrecorded, final=ended)
                except Exception as exc:  # the login node away for now: try again later
                    if ended:
                        note = f"[launchbay] could not read the job's last output: {exc}\n"
                        os.write(log_fd, note.encode())
                if ended:
                    return
                self.job_ended.wait(self._every)
        finally:
            cursor.close()
            os.close(log_fd)

    def _unrecorded(self, cursor: OffsetCursor, log_fd: int) -> bytes:
        """What the log gained after the cursor was last written (a copy not recorded)."""
        size = os.fstat(log_fd).st_size
        if cursor.log_size is None or size <= cursor.log_size:
            return b""
        with open(self._log_path, "rb") as log:  # log_fd is append-only: not readable
            log.seek(cursor.log_size)
            return log.read(min(size - cursor.log_size, CHUNK))

    def _copy(self, cursor: OffsetCursor, log_fd: int, unrecorded: bytes, final: bool) -> bytes:
        while True:
            data = self._cluster.read_from(self._output, cursor.offset, CHUNK)
            if not final:
                data = data[: data.rfind(b"\n") + 1]  # whole lines only, until the end
            if not data:
                return unrecorded
            if unrecorded:
                # Bytes of the job already in the log (an agent killed between its writes):
                # skip them; launchbay's own notes in between are not the job's.
                ours = b"".join(
                    line for line in unrecorded.splitlines(True)
                    if not line.startswith(b"[launchbay]")
                )  # fmt: skip
                if ours and data.startswith(ours):
                    cursor.record(cursor.offset + len(ours), os.fstat(log_fd).st_size)
                    data = data[len(ours) :]
                unrecorded = b""
            if data:
                if final and not data.endswith(b"\n"):
                    data += b"\n"
                    written = len(data) - 1
                else:
                    written = len(data)
                os.write(log_fd, data)
                cursor.record(cursor.offset + written, os.fstat(log_fd).st_size)
            if len(data) < CHUNK // 2:
                return unrecorded

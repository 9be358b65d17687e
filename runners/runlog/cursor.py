"""Copying a target's output into a run's log exactly once, across agent restarts.

Docker and the Kubernetes API both keep a container's output and can send it with a timestamp
before each line (LogCopier). The last timestamp copied is kept in a cursor file beside the log;
output fetched again after a restart (since that time) is skipped up to it. Timestamps are made
fixed-width (nanoseconds, UTC) so that comparing them as text orders them in time.

Ray's log tail and a Slurm job's output file have no timestamps (OffsetCopier): the cursor is
then the number of bytes of the output already copied. Ray's tail sends the output from its
start on every connection; the output file is read on from the cursor.
"""

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from runners.runlog.logfile import open_append

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
STAMP_WIDTH = 30  # 2026-11-26T08:00:00.123456789Z
UNRECORDED_LIMIT = 1 << 20  # more than a line's worth after the cursor: not ours to judge


def normalize(stamp: str) -> str | None:
    """`2026-11-26T08:00:00.1234Z` → `2026-11-26T08:00:00.123400000Z`; None if not a stamp."""
    match = _STAMP.fullmatch(stamp)
    if not match or match.group(3) != "Z":
        return None  # both APIs send UTC; anything else is not a timestamp prefix
    return f"{match.group(1)}.{(match.group(2) or '').ljust(9, '0')}Z"


def stamp_seconds(stamp: str) -> float:
    """A normalized stamp as Unix seconds (to the microsecond)."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp() + float(f"0.{fraction}")


class LogCopier:
    """Appends timestamped lines to a run's log, skipping those copied before."""

    def __init__(self, log_path: Path, cursor_path: Path):
        self.cursor, recorded_size = _read(cursor_path)
        self._log_fd = open_append(log_path)
        self._cursor_fd = os.open(cursor_path, os.O_WRONLY | os.O_CREAT, 0o600)
        # Bytes the log gained after the cursor was last written: the line an agent killed
        # between its two writes copied without recording it (see write()).
        self._unrecorded = b""
        size = os.fstat(self._log_fd).st_size
        if self.cursor and recorded_size is not None and size > recorded_size:
            with open(log_path, "rb") as log:
                log.seek(recorded_size)
                self._unrecorded = log.read(min(size - recorded_size, UNRECORDED_LIMIT))

    def since_seconds(self) -> float | None:
        """Where to ask the API to start (a microsecond early: the skip removes the overlap)."""
        return stamp_seconds(self.cursor) - 1e-6 if self.cursor else None

    def write(self, line: bytes) -> None:
        """One `STAMP TEXT` line (TEXT keeps its newline)."""
        raw, _, text = line.partition(b" ")
        stamp = normalize(raw.decode("ascii", "replace"))
        if stamp is None:  # no stamp: copy as it is
            os.write(self._log_fd, line)
            return
        if self.cursor and stamp <= self.cursor:
            return  # copied before the agent restarted
        unrecorded, self._unrecorded = self._unrecorded, b""
        if unrecorded and unrecorded.endswith(text):
            self._record(stamp)  # the first line after the cursor is already in the log
            return
        os.write(self._log_fd, text)
        self._record(stamp)

    def _record(self, stamp: str) -> None:
        """The cursor, overwritten in place right after each line: the stamp and the log's
        size then, so a line written but not recorded is recognised on the next start."""
        size = os.fstat(self._log_fd).st_size
        os.pwrite(self._cursor_fd, f"{stamp} {size:020d}".encode(), 0)
        self.cursor = stamp

    def close(self) -> None:
        os.close(self._log_fd)
        os.close(self._cursor_fd)


def _read(path: Path) -> tuple[str | None, int | None]:
    """(stamp, log size when it was written) from the cursor file; (None, None) if none."""
    try:
        words = path.read_text().split()
    except FileNotFoundError:
        return None, None
    stamp = normalize(words[0]) if words else None
    size = int(words[1]) if len(words) > 1 and words[1].isdigit() else None
    return stamp, size


class OffsetCopier:
    """Appends a source's output (Ray's log tail, a Slurm job's output file) to a run's log,
    line by line, skipping the bytes copied before. `drop(line)` says which lines are not
    copied (the source's own lines that are not the job's)."""

    def __init__(self, log_path: Path, cursor_path: Path, drop=None):
        self.copied, recorded_size = _read_offset(cursor_path)
        self._drop = drop or (lambda line: False)
        self._log_fd = open_append(log_path)
        self._cursor_fd = os.open(cursor_path, os.O_WRONLY | os.O_CREAT, 0o600)
        # As in LogCopier: the line an agent killed between its two writes copied unrecorded.
        self._unrecorded = b""
        size = os.fstat(self._log_fd).st_size
        if recorded_size is not None and size > recorded_size:
            with open(log_path, "rb") as log:
                log.seek(recorded_size)
                self._unrecorded = log.read(min(size - recorded_size, UNRECORDED_LIMIT))
        self.restart()

    def restart(self, at: int = 0) -> None:
        """The source sends its output again from byte `at`: 0 for a new connection that
        sends it all, `copied` for a file read on from the cursor."""
        self._position = at
        self._partial = b""

    def feed(self, data: bytes) -> None:
        """The next bytes of the source; whole lines are copied, a last partial one kept."""
        lines = (self._partial + data).splitlines(keepends=True)
        self._partial = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
        for line in lines:
            self._line(line)

    def flush(self) -> None:
        """The source has ended: its last line, even without a newline (the log gets one, so
        that what follows in it starts a line of its own)."""
        if self._partial:
            self._line(self._partial)
            self._partial = b""

    def _line(self, line: bytes) -> None:
        start = self._position
        self._position += len(line)
        if self._position <= self.copied:
            return  # copied before the agent restarted
        line = line[max(0, self.copied - start) :]
        if self._drop(line):
            return
        unrecorded, self._unrecorded = self._unrecorded, b""
        if not (unrecorded and unrecorded.startswith(line)):
            os.write(self._log_fd, line if line.endswith(b"\n") else line + b"\n")
        size = os.fstat(self._log_fd).st_size
        os.pwrite(self._cursor_fd, f"{self._position:020d} {size:020d}".encode(), 0)
        self.copied = self._position

    def close(self) -> None:
        os.close(self._log_fd)
        os.close(self._cursor_fd)


def _read_offset(path: Path) -> tuple[int, int | None]:
    """(bytes of the source copied, log size when it was written) from the cursor file."""
    try:
        words = path.read_text().split()
    except FileNotFoundError:
        return 0, None
    numbers = [int(word) for word in words[:2] if word.isdigit()]
    return (numbers + [0])[0], (numbers[1] if len(numbers) > 1 else None)

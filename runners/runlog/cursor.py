"""Copying a target's output into a run's log exactly once, across agent restarts.

Docker and the Kubernetes API both keep a container's output and can send it with a timestamp
before each line (LogCopier). The last timestamp copied is kept in a cursor file beside the log;
output fetched again after a restart (since that time) is skipped up to it. Timestamps are made
fixed-width (nanoseconds, UTC) so that comparing them as text orders them in time.

Ray's log tail and a Slurm job's output file have no timestamps (OffsetCopier): the cursor is
then the number of bytes of the output already copied. Ray's tail sends the output from its
start on every connection; the output file is read on from the cursor.

Each cursor also records the log's size when it was written, from the copier's start. An
agent killed between its two writes (the log's, then the cursor's) leaves bytes in the log past
that size: copied but not recorded (`unrecorded_tail`). The next agent reads them again from the
old cursor, and skips them when they are exactly what it would write; the followers of
CloudWatch and Cloud Logging, which copy a page of lines at a time, do so through
`UnrecordedCopy`. When in doubt a line is copied again rather than lost: another source writing
into the same log (a pod beside, launchbay's notes) is not taken for the copier's own.
"""

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from runners.runlog.logfile import open_append

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
STAMP_WIDTH = 30  # 2026-11-26T08:00:00.123456789Z
LINE_LIMIT = 1 << 20  # more than this past a line copier's cursor is not its one line
PAGE_LIMIT = 64 << 20  # past a page's worth (CloudWatch's 1 MB, prefixes and all)
NOTE_PREFIX = b"[launchbay] "


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


def unrecorded_tail(log_path: Path, recorded_size: int | None, limit: int = LINE_LIMIT) -> bytes:
    """The source's bytes the log gained after its cursor last recorded its size: none without
    one, or when more than `limit` (then not one line or page of the copier's: nothing is
    skipped). launchbay's own notes (an ingest's, a notifier's) may be there too: left out."""
    if recorded_size is None:
        return b""
    with open(log_path, "rb") as log:
        if log.seek(0, os.SEEK_END) - recorded_size > limit:
            return b""
        log.seek(recorded_size)
        lines = log.read().splitlines(keepends=True)
    return b"".join(line for line in lines if not line.startswith(NOTE_PREFIX))


class UnrecordedCopy:
    """For a follower that appends a page of lines, then records its cursor: the page a killed
    agent appended without recording it comes again from the old cursor, perhaps split across
    pages differently, and is skipped. Only the first pass over the source may hold it
    (`forget` after it): a later line that merely looks the same is the job's own."""

    def __init__(self, log_path: Path, recorded_size: int | None):
        self._pending = unrecorded_tail(log_path, recorded_size, PAGE_LIMIT)

    def less_copied(self, text: bytes) -> bytes:
        """`text` less what of it the log already holds."""
        pending = self._pending
        if not pending or not text:
            return text
        if pending.startswith(text):  # the page re-read is a part of the unrecorded copy
            self._pending = pending[len(text) :]
            return b""
        if text.startswith(pending):  # ... or the unrecorded copy and lines new since
            self._pending = b""
            return text[len(pending) :]
        return text  # another source's page (another instance's stream)

    def forget(self) -> None:
        self._pending = b""


class LogCopier:
    """Appends timestamped lines to a run's log, skipping those copied before."""

    def __init__(self, log_path: Path, cursor_path: Path):
        self.cursor, recorded_size = _read(cursor_path)
        self._log_fd = open_append(log_path)
        self._cursor_fd = os.open(cursor_path, os.O_WRONLY | os.O_CREAT, 0o600)
        if recorded_size is None:  # the first start (or a cursor of a stamp alone): the size
            size = os.fstat(self._log_fd).st_size
            record = f"{self.cursor or '-'} {size:020d}".encode()
            os.pwrite(self._cursor_fd, record, 0)
            os.ftruncate(self._cursor_fd, len(record))
        # The line an agent killed between its two writes copied without recording it: the
        # whole of what the log gained since, else it is another's (a pod beside) and is kept.
        self._unrecorded = unrecorded_tail(log_path, recorded_size)

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
        if unrecorded and unrecorded == text:
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
        if recorded_size is None:  # as in LogCopier: the log's size before any line is copied
            self._record_position(os.fstat(self._log_fd).st_size)
        # As in LogCopier: the line an agent killed between its two writes copied unrecorded.
        self._unrecorded = unrecorded_tail(log_path, recorded_size)
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
        line = line if line.endswith(b"\n") else line + b"\n"
        if unrecorded != line:  # as in LogCopier: only the whole of it is the line copied
            os.write(self._log_fd, line)
        self.copied = self._position
        self._record_position(os.fstat(self._log_fd).st_size)

    def _record_position(self, log_size: int) -> None:
        os.pwrite(self._cursor_fd, f"{self.copied:020d} {log_size:020d}".encode(), 0)

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

"""The plain protocol: JSON lines of numbers, in the file LAUNCHBAY_METRICS_FILE names or in the
run's log after a stated prefix.

A line is one JSON object: `{"loss": 0.31, "acc": 0.9, "step": 10, "time": 1733150000.5}`.
`step` (or `_step`) and `time` (or `_timestamp`) are optional and are no metrics; a nested
object's keys are joined with "/" (`{"val": {"loss": 1}}` is `val/loss`). Only numbers are
metrics: NaN and ±Infinity are kept, booleans, strings and null are not metrics (skipped
silently). A line that is no JSON object, too long, or too deep is malformed: skipped and
counted. The log form is the same object after METRICS_LINE_PREFIX, so the same job reports
the same curves on every target (a remote target's output reaches the run's log).

The cursor is the byte offset after the last complete line read: a half-written last line is
left for the next read. An over-long line is skipped up to its newline even when that comes in
a later read (the cursor then ends with "!").
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from runners.metrics.sources import Batch, Point

METRICS_FILE_ENV = "LAUNCHBAY_METRICS_FILE"
METRICS_LINE_PREFIX = "LAUNCHBAY_METRICS "
MAX_LINE_BYTES = 4 << 20  # a longer line is malformed (a 10 MB line is skipped, not parsed)
MAX_KEY_CHARS = 256
MAX_DEPTH = 8  # nesting of objects flattened into keys
_READ_BYTES = MAX_LINE_BYTES  # a full read holding no newline is a line too long
_FIRST_READ_BYTES = 64 << 10
_BYTES_PER_READ = 16 << 20  # one read of a huge log without metrics stops here; the next goes on
_STEP_KEYS = ("step", "_step")
_TIME_KEYS = ("time", "_timestamp")
_SQLITE_INT = (-(1 << 63), (1 << 63) - 1)


def parse_line(text: bytes | str) -> tuple[list[Point], int]:
    """The points of one protocol line, and how many malformed records it held (0 or 1 for
    the line itself, plus refused keys)."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        return [], 1
    if not isinstance(record, dict):
        return [], 1
    step = _step_of(record)
    at = _time_of(record)
    points: list[Point] = []
    refused = _flatten(record, "", 0, step, at, points)
    return points, refused


def _step_of(record: dict) -> int | None:
    for name in _STEP_KEYS:
        value = record.get(name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and _SQLITE_INT[0] <= value <= _SQLITE_INT[1]
        ):
            return value
    return None


def _time_of(record: dict) -> float | None:
    for name in _TIME_KEYS:
        value = record.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                at = float(value)
            except OverflowError:
                continue
            if math.isfinite(at):
                return at
    return None


def _flatten(record: dict, prefix: str, depth: int, step, at, points: list[Point]) -> int:
    refused = 0
    for key, value in record.items():
        if depth == 0 and key in _STEP_KEYS + _TIME_KEYS:
            continue
        name = prefix + key
        if isinstance(value, dict):
            if depth + 1 >= MAX_DEPTH:
                refused += 1
            else:
                refused += _flatten(value, name + "/", depth + 1, step, at, points)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # not a metric
        if len(name) > MAX_KEY_CHARS or not name:
            refused += 1
            continue
        try:
            points.append(Point(name, float(value), step, at))
        except OverflowError:  # an integer past a float's range
            refused += 1
    return refused


class JsonLinesSource:
    """Protocol lines in a file: every line (the metrics file), or only those that start with
    `prefix` (the run's log; other lines are the job's output, neither metrics nor malformed)."""

    def __init__(self, name: str, path: Path, prefix: str | None = None):
        self.name = name
        self.path = Path(path)
        self._prefix = prefix.encode() if prefix else None

    def read(self, cursor: str | None, limit: int) -> Batch:
        offset, skipping = _parse_cursor(cursor)
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:  # not written yet (or gone): nothing new
            return Batch([], cursor)
        try:
            if os.fstat(fd).st_size < offset:
                offset, skipping = 0, False  # truncated and written anew: read it all
            return self._read_from(fd, offset, skipping, limit)
        finally:
            os.close(fd)

    def _read_from(self, fd: int, offset: int, skipping: bool, limit: int) -> Batch:
        points: list[Point] = []
        malformed = 0
        stop_at = offset + _BYTES_PER_READ
        size = _FIRST_READ_BYTES  # grows only while a line is longer than a read
        while len(points) < limit and offset < stop_at:
            chunk = os.pread(fd, size, offset)
            if not chunk:
                break
            if skipping:
                end = chunk.find(b"\n")
                offset, skipping = (
                    (offset + len(chunk), True) if end < 0 else (offset + end + 1, False)
                )
                continue
            end = chunk.rfind(b"\n")
            if end < 0:
                if len(chunk) < size:
                    break  # a line still being written: left for the next read
                if size < _READ_BYTES:
                    size = min(size * 4, _READ_BYTES)
                    continue
                # A line longer than MAX_LINE_BYTES: malformed, skipped to its end.
                malformed += self._counts(chunk)
                offset, skipping = offset + len(chunk), True
                continue
            used, found, bad = self._parse_lines(chunk[: end + 1], limit - len(points))
            points += found
            malformed += bad
            offset += used
        return Batch(points, f"{offset}{'!' if skipping else ''}", malformed)

    def _parse_lines(self, block: bytes, room: int) -> tuple[int, list[Point], int]:
        """Parse whole lines of `block` until `room` points are found; bytes used, points,
        malformed count."""
        used, points, malformed = 0, [], 0
        for line in block.splitlines(keepends=True):
            used += len(line)
            if not self._counts(line):
                continue
            text = line[len(self._prefix) :] if self._prefix else line
            if len(text) > MAX_LINE_BYTES:
                malformed += 1
                continue
            if not text.strip():
                continue
            found, bad = parse_line(text)
            points += found
            malformed += bad
            if len(points) >= room:
                break
        return used, points, malformed

    def _counts(self, line: bytes) -> int:
        """Whether a line is the protocol's (1) or the job's other output (0)."""
        return 1 if self._prefix is None or line.startswith(self._prefix) else 0


def _parse_cursor(cursor: str | None) -> tuple[int, bool]:
    if not cursor:
        return 0, False
    skipping = cursor.endswith("!")
    try:
        return max(0, int(cursor.rstrip("!"))), skipping
    except ValueError:
        return 0, False  # not ours: read from the start

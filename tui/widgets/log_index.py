"""Reading a log file too big to load: where each line starts, kept up to date as the file
grows, and reads and searches done in chunks. No Textual here: the LogView widget drives it
from its threads.
"""

from __future__ import annotations

import bisect
import os
import re
import selectors
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path

from runners.runlog.logfile import FALLBACK_INTERVAL, latest_state
from runners.system.wakeup import FileWatch, Waker

CHUNK_BYTES = 1 << 20  # read per step when indexing or searching
MAX_LINE_BYTES = 16 * 1024  # a longer line is shown cut; the rest stays on disk
GROWTH_INTERVAL = 0.05  # the index thread reports growth at most this often
IDLE_RECHECK = 1.0  # with inotify, the longest wait before asking is_done() again

IsDone = Callable[[], bool]
_NEWLINE = re.compile(b"\n")
# Control characters would move the terminal's cursor; tabs are expanded first, ESC is kept
# for colours (decoded by Rich when drawn).
_CONTROLS = dict.fromkeys([*(c for c in range(32) if c != 27), 127])


class LineIndex:
    """Where each line of a growing file starts, shared by the threads that read the file.

    `starts[i]` is the offset of line i; the last entry is where the next line will start, and
    the bytes from there to `size` are a line still being written (the tail)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._starts = array("Q", [0])
        self.size = 0  # bytes indexed
        self.generation = 0  # bumped when the file shrank and indexing started over

    def add(self, chunk: bytes) -> None:
        """Index `chunk`, the file's bytes from `size` on (only the indexing thread adds)."""
        base = self.size
        found = array("Q", [base + m.end() for m in _NEWLINE.finditer(chunk)])
        with self._lock:
            self._starts.extend(found)
            self.size = base + len(chunk)

    def reset(self) -> None:
        with self._lock:
            self._starts = array("Q", [0])
            self.size = 0
            self.generation += 1

    def counts(self) -> tuple[int, int, int, int]:
        """(generation, lines counting the tail, lines ending in a newline, bytes indexed)."""
        with self._lock:
            complete = len(self._starts) - 1
            tail = self.size > self._starts[-1]
            return self.generation, complete + tail, complete, self.size

    def spans(self, first: int, last: int, size: int) -> list[tuple[int, int]]:
        """Byte ranges of lines first…last-1 (fewer if there are fewer); the tail ends at
        `size`."""
        with self._lock:
            starts = self._starts
            complete = len(starts) - 1
            spans = [(starts[i], starts[i + 1]) for i in range(first, min(last, complete))]
            if first <= complete < last and size > starts[complete]:
                spans.append((starts[complete], size))
            return spans

    def start_of(self, line: int) -> int:
        with self._lock:
            return self._starts[min(max(line, 0), len(self._starts) - 1)]

    def line_at(self, offset: int) -> int:
        """The line holding byte `offset`."""
        with self._lock:
            return bisect.bisect_right(self._starts, offset) - 1


class FileIndexer:
    """The indexing thread's loop: index what the file holds, then what is added to it, until
    `is_done()` (then one last look) or `stopped()`. Reports through `report(missing, ended)`,
    at most every GROWTH_INTERVAL."""

    def __init__(
        self,
        path: Path,
        index: LineIndex,
        is_done: IsDone | None,
        waker: Waker,
        report: Callable[[bool, bool], None],
        stopped: Callable[[], bool],
    ) -> None:
        self.path, self.index, self.is_done, self.waker = path, index, is_done, waker
        self.report, self.stopped = report, stopped
        self.fd: int | None = None
        self.watch: FileWatch | None = None
        self.watched: tuple[Path, str] | None = None
        self.pending = True  # the first look is reported, whatever it finds
        self.last_report = 0.0

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.waker, selectors.EVENT_READ)
        try:
            self._follow(selector)
        finally:
            selector.close()
            if self.watch is not None:
                self.watch.close()
            if self.fd is not None:
                os.close(self.fd)

    def _follow(self, selector: selectors.BaseSelector) -> None:
        # is_done() is asked once caught up with the file, then only after a poke or a quiet
        # while: not after every write of a chatty run.
        ask, finishing = True, False
        while not self.stopped():
            self._watch_nearest(selector)  # before looking, so a change right after wakes us
            if self._scan() and not finishing:
                continue  # more may have come meanwhile: look again before asking or waiting
            if finishing:
                self._flush(ended=True)
                return
            if ask and (self.is_done is None or self.is_done()):
                finishing = True  # one more look: what was written before the end still counts
                continue
            ask = self._wait(selector, self._flush())

    def _scan(self) -> bool:
        if self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return False
            self.pending = True
        size = os.fstat(self.fd).st_size
        if size < self.index.size:  # cut short (truncated): start over
            self.index.reset()
            self.pending = True
        grew = False
        while self.index.size < size and not self.stopped():
            chunk = os.pread(self.fd, min(CHUNK_BYTES, size - self.index.size), self.index.size)
            if not chunk:
                break
            self.index.add(chunk)
            grew = self.pending = True
            self._flush()  # a big file shows its lines while the scan goes on
        return grew

    def _flush(self, ended: bool = False) -> float | None:
        """Report if something is pending and the last report is old enough; else return how
        long until it will be."""
        if not (self.pending or ended):
            return None
        due = self.last_report + GROWTH_INTERVAL - time.monotonic()
        if due > 0 and not ended:
            return due
        self.report(self.fd is None, ended)
        self.last_report, self.pending = time.monotonic(), False
        return None

    def _watch_nearest(self, selector: selectors.BaseSelector) -> None:
        """Watch the file's folder, or while that is missing, the nearest folder on its way."""
        child = self.path
        for folder in self.path.parents:
            if folder.is_dir():
                break
            child = folder
        target = (folder, child.name)
        if target == self.watched:
            return
        if self.watch is not None:
            if self.watch.available:
                selector.unregister(self.watch)
            self.watch.close()
        self.watch, self.watched = FileWatch(folder, {child.name}), target
        if self.watch.available:
            selector.register(self.watch, selectors.EVENT_READ)

    def _wait(self, selector: selectors.BaseSelector, timeout: float | None) -> bool:
        """Sleep until the file changes, a poke, or `timeout`. True if it is time to ask
        is_done() again (poked, or nothing happened)."""
        if self.watch is None or not self.watch.available:
            timeout = min(timeout or FALLBACK_INTERVAL, FALLBACK_INTERVAL)
        elif timeout is None:
            timeout = IDLE_RECHECK
        events = selector.select(timeout)
        poked = False
        for key, _ in events:
            if key.fileobj is self.waker:
                self.waker.drain()
                poked = True
            elif self.watch is not None:
                self.watch.drain()
        return poked or not events


def clean_line(raw: bytes, length: int) -> str:
    """A line's bytes as text to draw: no newline, only its last state if a progress bar
    redrew it with \\r, tabs expanded, control characters dropped, a cut line marked."""
    text = latest_state(raw.decode("utf-8", "replace").removesuffix("\n"))
    text = text.expandtabs(8).translate(_CONTROLS)
    if length > len(raw):
        text += f" … ({length - len(raw):,} more bytes)"
    return text


def read_lines(path: Path, spans: list[tuple[int, int]]) -> list[str]:
    """The lines at `spans` (byte ranges) of `path`, each cut at MAX_LINE_BYTES; of a longer
    line a progress bar redraws (`\\r`), its end, where its last state is."""
    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        lines = []
        for start, end in spans:
            if end - start > MAX_LINE_BYTES:
                tail = os.pread(fd, MAX_LINE_BYTES, end - MAX_LINE_BYTES)
                state = tail.rstrip(b"\r\n").rfind(b"\r")
                if state >= 0:  # its last state is whole in the tail: that alone is shown
                    lines.append(clean_line(tail[state + 1 :], 0))
                    continue
            raw = os.pread(fd, min(end - start, MAX_LINE_BYTES), start)
            lines.append(clean_line(raw, end - start))
        return lines


def find_match(
    path: Path, query: str, start: int, size: int, backward: bool, cancelled: IsDone
) -> tuple[int, bool] | None:
    """Where `query` first occurs at or after byte `start` (last occurs before it, `backward`),
    wrapping round the first `size` bytes; and whether it wrapped. Reads a chunk at a time."""
    pattern = search_patterns(query)[0]
    overlap = len(query.encode()) - 1  # a match that straddles two chunks is read whole
    ranges = [(0, start), (start, size)] if backward else [(start, size), (0, start)]
    with open(path, "rb", buffering=0) as f:
        for wrapped, (lo, hi) in enumerate(ranges):
            # Chunks [begin, end), read with `overlap` more bytes: matches starting inside.
            bounds = range(hi, lo, -CHUNK_BYTES) if backward else range(lo, hi, CHUNK_BYTES)
            for edge in bounds:
                if cancelled():
                    return None
                if backward:
                    begin, end = max(lo, edge - CHUNK_BYTES), edge
                else:
                    begin, end = edge, min(hi, edge + CHUNK_BYTES)
                chunk = os.pread(f.fileno(), min(size, end + overlap) - begin, begin)
                if backward:
                    starts = [m.start() for m in pattern.finditer(chunk)]
                    offset = next((o for o in reversed(starts) if o < end - begin), None)
                else:
                    match = pattern.search(chunk)
                    offset = match.start() if match and match.start() < end - begin else None
                if offset is not None:
                    return begin + offset, bool(wrapped)
    return None


def search_patterns(query: str) -> tuple[re.Pattern[bytes], re.Pattern[str]]:
    """The query as a pattern over the file's bytes and over a decoded line. Smart case: a
    query in lower case matches any case."""
    flags = re.IGNORECASE if query == query.lower() else 0
    return re.compile(re.escape(query.encode()), flags), re.compile(re.escape(query), flags)

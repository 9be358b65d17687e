"""A run's log printed on stdout (`runs logs`, `launch --follow`), as a terminal would show it.

A line a progress bar redraws with `\\r` (an image pull's, a tqdm bar's) is printed in its last
state. On a terminal, while such a line is still being written, it is drawn and redrawn in
place (`\\r`, then erase to the end of the line), and the next line printed replaces it. Status
lines (on stderr, the same terminal) go above it: `aside` erases it, says, and draws it again.
The log is read on one thread and status lines come from others: one lock orders them.
"""

import threading
from collections.abc import Callable
from typing import TextIO

from runners.runlog.logfile import latest_state

ERASE_LINE = "\r\x1b[K"


class LogPrinter:
    def __init__(self, stream: TextIO, flush: bool = True):
        self._stream = stream
        self._flush = flush
        self._in_place = stream.isatty()
        self._lock = threading.Lock()
        self._drawn: str | None = None  # the line still being written, as drawn now

    @property
    def redrawn(self) -> Callable[[str], None] | None:
        """For follow_lines: where the latest state of a line still being written goes (only
        on a terminal; elsewhere it is printed once whole)."""
        return self._draw if self._in_place else None

    def line(self, text: str) -> None:
        with self._lock:
            self._stream.write(self._erase() + latest_state(text) + "\n")
            self._drawn = None
            if self._flush:
                self._stream.flush()

    def aside(self, say: Callable[[str], None], text: str) -> None:
        """`say(text)` on the same terminal (a status line on stderr), above the line drawn."""
        with self._lock:
            if self._drawn is not None:
                self._stream.write(ERASE_LINE)
                self._stream.flush()
            say(text)
            if self._drawn is not None:
                self._stream.write(self._drawn)
                self._stream.flush()

    def end(self) -> None:
        """Stopped following (ctrl+c): a line drawn stays as it was, and what follows (a last
        status line, the shell's prompt) starts a line of its own."""
        with self._lock:
            if self._drawn is not None:
                self._stream.write("\n")
                self._stream.flush()
                self._drawn = None

    def _draw(self, text: str) -> None:
        with self._lock:
            self._stream.write(ERASE_LINE + text)
            self._stream.flush()
            self._drawn = text

    def _erase(self) -> str:
        return ERASE_LINE if self._drawn is not None else ""

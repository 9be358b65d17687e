"""A run's log printed on stdout (`runs logs`, `launch --follow`), as a terminal would show it.

A line a progress bar redraws with `\\r` (an image pull's, a tqdm bar's) is printed in its last
state. On a terminal, while such a line is still being written, it is drawn and redrawn in
place (`\\r`, then erase to the end of the line), and the next line printed replaces it.
"""

from collections.abc import Callable
from typing import TextIO

from runners.runlog.logfile import latest_state

ERASE_LINE = "\r\x1b[K"


class LogPrinter:
    def __init__(self, stream: TextIO, flush: bool = True):
        self._stream = stream
        self._flush = flush
        self._in_place = stream.isatty()
        self._drawn = False  # a line still being written is drawn: the next output replaces it

    @property
    def redrawn(self) -> Callable[[str], None] | None:
        """For follow_lines: where the latest state of a line still being written goes (only
        on a terminal; elsewhere it is printed once whole)."""
        return self._draw if self._in_place else None

    def line(self, text: str) -> None:
        self._stream.write(self._erase() + latest_state(text) + "\n")
        if self._flush:
            self._stream.flush()

    def clear(self) -> None:
        """Before other output on the same terminal (a status line on stderr)."""
        if self._drawn:
            self._stream.write(self._erase())
            self._stream.flush()

    def _draw(self, text: str) -> None:
        self._stream.write(ERASE_LINE + text)
        self._stream.flush()
        self._drawn = True

    def _erase(self) -> str:
        erase, self._drawn = (ERASE_LINE if self._drawn else ""), False
        return erase

"""A log file too big to load, shown line by line while it grows (toolong's approach).

A thread keeps `LineIndex`, where each line starts (8 bytes a line), by scanning only the
bytes added since it last looked; between looks it sleeps on inotify (`FileWatch`) and a
`Waker`, and it stops following once `is_done()` says the writer has finished. It reports with
`Grew`, a message that replaces any older one still queued, so a fast writer costs the UI one
update per frame, not one per line.

The widget draws lines itself (Textual's line API). Only the lines in view and a margin are
read (`os.pread`, on a worker thread) and kept decoded; the rest stays on disk. Search
(log_search) scans the file in chunks on a worker thread. Nothing on the UI thread reads the
file.
"""

from __future__ import annotations

import threading
from pathlib import Path

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from runners.system.wakeup import Waker

from .log_index import FileIndexer, IsDone, LineIndex, read_lines
from .log_search import LogSearch

MARGIN = 100  # lines read beyond the view on each side, so scrolling finds them ready


class LogView(LogSearch, ScrollView, can_focus=True, inherit_bindings=False):
    """The lines of one file, following it as it grows. Posts `Changed` for a status line."""

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    LogView > .log-view--placeholder { color: $text-muted; }
    LogView > .log-view--match { background: $warning; color: $text; }
    LogView > .log-view--match-line { background: $accent 30%; }
    """
    COMPONENT_CLASSES = {"log-view--placeholder", "log-view--match", "log-view--match-line"}
    BINDINGS = [
        Binding("up,k", "scroll_lines(-1)", "Up", show=False, id="log.up"),
        Binding("down,j", "scroll_lines(1)", "Down", show=False, id="log.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="log.page_up"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="log.page_down"),
        Binding("left", "scroll_columns(-8)", "Left", show=False, id="log.left"),
        Binding("right", "scroll_columns(8)", "Right", show=False, id="log.right"),
    ]

    follow = reactive(True)
    """Stay at the last line as lines arrive. Scrolling up turns it off."""

    class Grew(Message, bubble=False):
        """The index thread found more of the file, found it missing, or stopped following."""

        def __init__(self, counts: tuple[int, int, int, int], missing: bool, ended: bool):
            super().__init__()
            self.generation, self.lines, self.complete, self.size = counts  # LineIndex.counts()
            self.missing, self.ended = missing, ended

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogView.Grew)  # each one carries the totals

    class LinesRead(Message, bubble=False):
        def __init__(self, request: tuple[int, int, int, int], lines: list[str], error: str):
            super().__init__()
            self.generation, self.start, self.complete, self.size = request
            self.lines, self.error = lines, error

    class Failed(Message, bubble=False):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class Changed(Message):
        """Something a status line shows changed: lines, position, follow, search."""

        def __init__(self, log_view: LogView) -> None:
            super().__init__()
            self.log_view = log_view

        @property
        def control(self) -> LogView:
            return self.log_view

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogView.Changed)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.path: Path | None = None
        self.line_count = 0
        self.missing = False
        self.ended = False
        self.message = "loading…"  # shown while there is no file to show
        self.error = ""  # why the file could not be followed
        self._index = LineIndex()
        self._generation = 0
        self._complete = 0  # lines ending in a newline; a line after them is still growing
        self._bytes_seen = 0
        self._lines: dict[int, str] = {}  # decoded lines in and around the view, no more
        self._max_width = 0
        self._reading = False
        self._stop = threading.Event()
        self._waker: Waker | None = None
        self._waker_lock = threading.Lock()

    # -- the file --------------------------------------------------------------------------

    def open(self, path: Path, is_done: IsDone | None = None) -> None:
        """Show `path`. With `is_done` (called on a worker thread), follow it as it grows until
        that returns True; without, read what is there now."""
        self.path = Path(path)
        self._waker = Waker()
        self._index_file(self.path, is_done, self._waker)

    def show_message(self, text: str) -> None:
        """Show `text` instead of lines (there is no file to open)."""
        self.message = text
        self.refresh()

    def poke(self) -> None:
        """Look at the file, and ask `is_done()`, now (the writer's state may have changed)."""
        with self._waker_lock:
            if self._waker is not None:
                self._waker.wake()

    def on_unmount(self) -> None:
        self._stop.set()
        self.poke()

    @work(thread=True, exit_on_error=False, group="log-index")
    def _index_file(self, path: Path, is_done: IsDone | None, waker: Waker) -> None:
        worker = get_current_worker()
        index = self._index

        def report(missing: bool, ended: bool) -> None:
            self.post_message(self.Grew(index.counts(), missing, ended))

        try:
            FileIndexer(
                path,
                index,
                is_done,
                waker,
                report,
                stopped=lambda: self._stop.is_set() or worker.is_cancelled,
            ).run()
        except Exception as exc:  # shown, and still raised for the worker's log
            self.post_message(self.Failed(f"cannot follow {path}: {exc}"))
            raise
        finally:
            with self._waker_lock:
                waker.close()
                if self._waker is waker:
                    self._waker = None

    def on_log_view_grew(self, message: Grew) -> None:
        if message.generation != self._generation:  # the file was cut short: start over
            self._generation = message.generation
            self._lines.clear()
            self.match_line = None
        old_complete = self._complete
        self.line_count = message.lines
        self._complete, self._bytes_seen = message.complete, message.size
        self.missing, self.ended = message.missing, message.ended
        for stale in [i for i in self._lines if i >= old_complete]:
            del self._lines[stale]  # the line that was still being written has grown
        self._resize()
        self._ensure_lines()
        self._changed()

    def on_log_view_failed(self, message: Failed) -> None:
        self.ended = True
        self.error = message.error
        self.refresh()
        self.notify(message.error, title="log", severity="error", timeout=8, markup=False)
        self._changed()

    # -- reading the lines in view ---------------------------------------------------------

    def _view_height(self) -> int:
        return max(1, self.scrollable_content_region.height)

    @property
    def visible_range(self) -> tuple[int, int]:
        """The lines in view: (first, one past the last)."""
        top = self.scroll_offset.y
        return top, min(self.line_count, top + self._view_height())

    def visible_lines(self) -> list[str | None]:
        """The text of each line in view; None for one not read yet."""
        return [self._lines.get(i) for i in range(*self.visible_range)]

    @property
    def cached_line_count(self) -> int:
        """How many decoded lines the view holds."""
        return len(self._lines)

    @property
    def max_cached_lines(self) -> int:
        """The most decoded lines the view keeps: the view and a margin either side of it."""
        return self._view_height() + 4 * MARGIN

    def _ensure_lines(self) -> None:
        first, last = self.visible_range
        if self._reading or self.path is None or first >= last:
            return
        if all(i in self._lines for i in range(first, last)):
            return
        start, end = max(0, first - MARGIN), min(self.line_count, last + MARGIN)
        self._reading = True
        self._read((self._generation, start, self._complete, self._bytes_seen), end)

    @work(thread=True, exit_on_error=False, group="log-read")
    def _read(self, request: tuple[int, int, int, int], end: int) -> None:
        _, start, _, size = request
        try:
            lines, error = read_lines(self.path, self._index.spans(start, end, size)), ""
        except OSError as exc:
            lines, error = [], f"cannot read {self.path}: {exc}"
        self.post_message(self.LinesRead(request, lines, error))

    def on_log_view_lines_read(self, message: LinesRead) -> None:
        self._reading = False
        if message.error:
            self.notify(message.error, title="log", severity="error", timeout=8, markup=False)
            return  # not retried at once: the next growth or scroll asks again
        if message.generation == self._generation:
            changed_since = message.size != self._bytes_seen
            for i, line in enumerate(message.lines, message.start):
                if not (changed_since and i >= message.complete):  # else a tail, since grown
                    self._lines[i] = line
            widest = max(map(cell_len, message.lines), default=0)
            if widest > self._max_width:
                self._max_width = widest
                self._resize()
            self._forget_far_lines()
            self.refresh()
        self._ensure_lines()

    def _forget_far_lines(self) -> None:
        first, last = self.visible_range
        keep_from, keep_to = first - 2 * MARGIN, last + 2 * MARGIN
        self._lines = {i: t for i, t in self._lines.items() if keep_from <= i < keep_to}

    # -- drawing ---------------------------------------------------------------------------

    def _resize(self) -> None:
        self.virtual_size = Size(self._max_width, self.line_count)
        self.refresh()
        if self.follow:
            self._keep_at_end()
            # Again once the scrollbars are settled: a horizontal one appearing takes a row.
            self.call_after_refresh(self._keep_at_end)

    def _keep_at_end(self) -> None:
        if self.follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, force=True)

    def on_resize(self) -> None:
        self._resize()
        self._ensure_lines()

    def _placeholder(self) -> str:
        if self.path is None or self.error:
            return self.error or self.message
        if self.ended:
            return "no output: the run ended without writing a log" if self.missing else "(empty)"
        return "waiting for output…"

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        index = self.scroll_offset.y + y
        if self.line_count == 0 or index >= self.line_count:
            if y == 0 and self.line_count == 0:
                muted = base + self.get_component_rich_style("log-view--placeholder")
                return Strip([Segment(self._placeholder()[:width].ljust(width), muted)])
            return Strip.blank(width, base)
        line = self._lines.get(index)
        if line is None:
            muted = base + self.get_component_rich_style("log-view--placeholder")
            return Strip([Segment("…".ljust(width), muted)])
        if index == self.match_line:
            base += self.get_component_rich_style("log-view--match-line")
        if "\x1b" in line or self._highlight is not None:
            text = Text.from_ansi(line, style=base) if "\x1b" in line else Text(line, style=base)
            if self._highlight is not None:
                match = self.get_component_rich_style("log-view--match")
                text.highlight_regex(self._highlight, match)
            strip = Strip(text.render(self.app.console))
        else:
            strip = Strip([Segment(line, base)])
        scroll_x = self.scroll_offset.x
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, base)

    # -- scrolling and following -----------------------------------------------------------

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self.follow and new < old and new < self.max_scroll_y:
            self.follow = False  # the user scrolled up (wheel, scrollbar): stop following
        self._ensure_lines()
        self._changed()

    def watch_follow(self, follow: bool) -> None:
        self.set_class(follow, "-following")
        self._keep_at_end()
        self._changed()

    def action_scroll_lines(self, delta: int) -> None:
        if delta < 0:
            self.follow = False
        self.scroll_to(y=self.scroll_offset.y + delta, animate=False, force=True)

    def action_page(self, direction: int) -> None:
        self.action_scroll_lines(direction * self._view_height())

    def action_scroll_columns(self, delta: int) -> None:
        self.scroll_to(x=self.scroll_offset.x + delta, animate=False, force=True)

    def scroll_to_end(self) -> None:
        """Show the last line, and follow from there."""
        self.follow = True
        self._keep_at_end()

    def scroll_to_line(self, line: int, *, center: bool = False) -> None:
        """Show `line` (at the top, or in the middle), and stop following."""
        self.follow = False
        top = line - self._view_height() // 2 if center else line
        self.scroll_to(y=max(0, top), animate=False, force=True)

    def _changed(self) -> None:
        self.post_message(self.Changed(self))

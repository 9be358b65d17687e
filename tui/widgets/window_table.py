"""A table over a query too big to load: only the rows in view (and a margin) are read.

The widget draws lines itself (Textual's line API), so a million rows cost what the visible
forty cost. Rows come from a `WindowSource`, always called on a worker thread: by keyset
(`after`/`before` a row already held) when scrolling, by offset only for a jump. While rows
are on their way, their lines show as placeholders; nothing on the UI thread waits for SQL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..loading import Answered, LoaderHost
from .table_columns import Column, fit_columns

Row = TypeVar("Row")
MARGIN = 60  # rows read beyond the viewport on each side, so scrolling finds them ready
COUNT_INTERVAL = 1.0  # while the data keeps changing, recount at most this often


class WindowSource(Protocol[Row]):
    """Where the rows come from. Every method runs on a worker thread."""

    def count(self) -> int: ...
    def at(self, offset: int, limit: int, total: int | None = None) -> list[Row]:
        """Rows offset…offset+limit-1; `total`, when known, lets a jump near the end read
        from the end."""
        ...

    def after(self, row: Row, limit: int) -> list[Row]: ...
    def before(self, row: Row, limit: int) -> list[Row]: ...


class WindowTable(LoaderHost, ScrollView, Generic[Row], can_focus=True):
    """Rows of a WindowSource with a cursor. Posts `Highlighted` and `Activated`."""

    DEFAULT_CSS = """
    WindowTable { height: 1fr; }
    WindowTable > .window-table--header { text-style: bold; background: $panel; }
    WindowTable > .window-table--cursor { background: $accent 40%; }
    WindowTable:focus > .window-table--cursor { background: $accent; color: $text; }
    WindowTable > .window-table--placeholder { color: $text-muted; }
    """
    COMPONENT_CLASSES = {
        "window-table--header",
        "window-table--cursor",
        "window-table--placeholder",
    }
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "first", "Top", show=False, id="table.top"),
        Binding("end,G", "last", "Bottom", show=False, id="table.bottom"),
    ]

    cursor = reactive(0, always_update=True)

    class _RowMessage(Message):
        def __init__(self, table: WindowTable, row: Any | None) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> WindowTable:  # lets handlers use @on(…, "#table-id")
            return self.table

    class Highlighted(_RowMessage):
        """The cursor moved to `row` (None while it loads)."""

    class Activated(_RowMessage):
        """enter, or a double click, on `row`."""

    class Loaded(Message):
        """Rows (or the count) arrived: tests and benchmarks wait for this."""

    def __init__(
        self,
        columns: Sequence[Column],
        source: WindowSource,
        *,
        empty_text: str = "nothing here",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.columns = list(columns)
        self._fitted: list[tuple[Column, int]] = [(c, c.width) for c in self.columns]
        self.source = source
        self.empty_text = empty_text
        self.total: int | None = None  # rows known so far; exact once `counted`
        self.counted = False
        self._rows: dict[int, Any] = {}
        self._generation = 0
        self._loading: tuple[int, int, int] | None = None  # (generation, start, end)
        # Bumped by each reload: a scroll fetch begun before it may still be running, and its
        # rows, read earlier, must not land over the fresh ones.
        self._refreshes = 0
        # At most one refresh and one count in flight: changes that arrive meanwhile are
        # remembered and handled once it lands, so a busy store can't pile up queries.
        self._refreshing = False
        self._refresh_again = False
        self._counting = False
        self._count_again = False
        self._count_started = 0.0
        self._count_cost = 0.0
        self._count_timer = None

    # -- data ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.reload()

    def reload(self, source: WindowSource | None = None) -> None:
        """Read again (the data or the filter changed). Old rows stay shown until new ones
        arrive, unless the source itself changed."""
        if source is not None:
            interrupt = getattr(self.source, "interrupt", None)
            if interrupt is not None:
                interrupt()  # its queries are no longer wanted
            self.source = source
            self._rows = {}
            self.total = None
            self.counted = False
            self.cursor = 0
            self.scroll_to(y=0, animate=False)
            self._generation += 1
            self._refreshing = self._counting = False
            self._refresh_again = self._count_again = False
        elif self._refreshing:
            self._refresh_again = True
            return
        self._loading = None
        self._refreshing = True
        self._refreshes += 1
        top = max(0, self.scroll_offset.y - MARGIN)
        end = top + self._view_height() + 2 * MARGIN
        self._fetch(self._generation, self._refreshes, top, end, fresh=True)
        self._request_count(fresh=source is not None)

    def _request_count(self, fresh: bool = False) -> None:
        """Count again, but at most one count at a time and, for the same source, at most one
        every COUNT_INTERVAL: counting a million rows is the one costly query here."""
        if self._counting:
            self._count_again = True
            return
        # A slow count (a text filter over a million runs) is repeated less often: counting
        # takes at most a fifth of a core while the store keeps changing.
        interval = max(COUNT_INTERVAL, 5 * self._count_cost)
        wait = self._count_started + interval - time.monotonic()
        if not fresh and self.counted and wait > 0:
            if self._count_timer is None:
                self._count_timer = self.set_timer(wait, self._count_timer_fired)
            return
        self._counting = True
        self._count_started = time.monotonic()
        self._count(self._generation)

    def _count_timer_fired(self) -> None:
        self._count_timer = None
        self._request_count()

    @work(thread=True, group="window-count", exit_on_error=False)
    def _count(self, generation: int) -> None:
        try:
            total = self.source.count()
        except Exception as exc:  # a broken store shows as a message, never a dead app
            self.post_message(Answered(self._failed, generation, exc))
            return
        self.post_message(Answered(self._counted, generation, total))

    def _failed(self, generation: int, error: Exception) -> None:
        if generation != self._generation:
            return
        self._loading = None
        self._refreshing = self._counting = False
        if "interrupted" in str(error):
            # Caught by the interrupt meant for a source we left: just read again.
            self.call_later(self.reload)
            return
        self.total = 0
        self.empty_text = f"could not read: {error}"
        self._resize()
        self.notify(str(error), title="store", severity="error", timeout=8, markup=False)

    def _counted(self, generation: int, total: int) -> None:
        if generation != self._generation:
            return
        self._counting = False
        self._count_cost = time.monotonic() - self._count_started
        if self._count_again:
            self._count_again = False
            self._request_count()
        self.total = total
        self.counted = True
        self._rows = {i: row for i, row in self._rows.items() if i < total}
        self._resize()
        self.post_message(self.Loaded())

    @work(thread=True, group="window-rows", exit_on_error=False)
    def _fetch(
        self, generation: int, refresh: int, start: int, end: int, fresh: bool = False
    ) -> None:
        before_row = None if fresh else self._rows.get(start - 1)
        after_row = None if fresh else self._rows.get(end)
        limit = end - start
        try:
            if before_row is not None:
                rows = self.source.after(before_row, limit)
            elif after_row is not None and start > 0:
                rows = self.source.before(after_row, limit)
                start = end - len(rows)
            else:
                rows = self.source.at(start, limit, self.total if self.counted else None)
        except Exception as exc:
            self.post_message(Answered(self._failed, generation, exc))
            return
        self.post_message(Answered(self._fetched, generation, refresh, start, rows, fresh))

    def _fetched(self, generation: int, refresh: int, start: int, rows: list, fresh: bool) -> None:
        if generation != self._generation or refresh != self._refreshes:
            return  # begun before the latest reload (which set _loading aside already)
        self._loading = None
        if fresh:
            self._rows = {}
            self._refreshing = False
            if self._refresh_again:
                self._refresh_again = False
                self.call_later(self.reload)
        for offset, row in enumerate(rows, start):
            self._rows[offset] = row
        if self.total is None or fresh and len(rows) < self._view_height():
            # Before the count arrives, size the table by what is known.
            known = max(self._rows, default=-1) + 1
            if self.total is None or known > self.total:
                self.total = known if self.total is None else max(self.total, known)
        self._forget_far_rows()
        self._resize()
        self.post_message(self.Loaded())
        self._highlight()
        self._ensure_rows()

    def _forget_far_rows(self) -> None:
        top = self.scroll_offset.y
        keep_from, keep_to = top - 4 * MARGIN, top + self._view_height() + 4 * MARGIN
        if len(self._rows) > 8 * MARGIN + self._view_height():
            self._rows = {i: r for i, r in self._rows.items() if keep_from <= i < keep_to}

    def _ensure_rows(self) -> None:
        """Ask for rows that are, or are about to be, in view."""
        if self.total is None or self._loading is not None:
            return
        top = self.scroll_offset.y
        start = max(0, top - MARGIN)
        end = min(self.total, top + self._view_height() + MARGIN)
        missing = [i for i in range(start, end) if i not in self._rows]
        if not missing:
            return
        first, last = missing[0], missing[-1] + 1
        # Read a whole margin at a time, from the side of the rows already held.
        if first - 1 in self._rows:
            last = min(self.total, max(last, first + MARGIN))
        elif last in self._rows:
            first = max(0, min(first, last - MARGIN))
        self._loading = (self._generation, first, last)
        self._fetch(self._generation, self._refreshes, first, last)

    def row_at(self, index: int):
        return self._rows.get(index)

    @property
    def current_row(self):
        return self._rows.get(self.cursor)

    # -- geometry and drawing --------------------------------------------------------------

    def _view_height(self) -> int:
        return max(1, self.size.height - 1)  # one line is the header

    def set_columns(self, columns: Sequence[Column]) -> None:
        self.columns = list(columns)
        self._resize()

    def _resize(self) -> None:
        self._fitted = fit_columns(self.columns, self.size.width or 10_000)
        width = sum(w + 2 for _, w in self._fitted)
        self.virtual_size = Size(width, (self.total or 0) + 1)
        self.refresh()

    def on_resize(self) -> None:
        self._resize()
        self._ensure_rows()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._ensure_rows()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = self.scroll_offset.x
        if y == 0:
            style = self.get_component_rich_style("window-table--header")
            cells = [
                (c.title if c.keep_case else c.title.upper(), w, None) for c, w in self._fitted
            ]
            return self._strip(cells, style, scroll_x, width)
        index = self.scroll_offset.y + y - 1
        if self.total == 0 and y == 1:
            placeholder = self.get_component_rich_style("window-table--placeholder")
            return Strip([Segment(self.empty_text.ljust(width)[:width], placeholder)])
        if self.total is not None and index >= self.total:
            return Strip.blank(width, self.rich_style)
        row = self._rows.get(index)
        base = self.rich_style
        if index == self.cursor:
            base = self.get_component_rich_style("window-table--cursor")
        if row is None:
            placeholder = base + self.get_component_rich_style("window-table--placeholder")
            return Strip([Segment("…".ljust(width)[:width], placeholder)])
        cells = [
            (column.cell(row), column_width, column.style(row) if column.style else None)
            for column, column_width in self._fitted
        ]
        return self._strip(cells, base, scroll_x, width)

    def _strip(self, cells, base: Style, scroll_x: int, width: int) -> Strip:
        segments = []
        for text, column_width, style in cells:
            text = text if len(text) <= column_width else text[: column_width - 1] + "…"
            cell_style = base + Style.parse(style) if style else base
            segments.append(Segment(" " + text.ljust(column_width) + " ", cell_style))
        line = Strip(segments).crop(scroll_x, scroll_x + width)
        return line.extend_cell_length(width, base)

    # -- cursor ------------------------------------------------------------------------------

    def validate_cursor(self, value: int) -> int:
        if not self.total:
            return 0
        return max(0, min(value, self.total - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        top = self.scroll_offset.y
        height = self._view_height()
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()
        self._highlight()

    def _highlight(self) -> None:
        self.post_message(self.Highlighted(self, self.current_row))

    def action_cursor(self, delta: int) -> None:
        self.cursor += delta

    def action_page(self, direction: int) -> None:
        self.cursor += direction * self._view_height()

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        if self.total:
            self.cursor = self.total - 1

    def key_enter(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.Activated(self, row))

    def on_click(self, event) -> None:
        index = self.scroll_offset.y + event.y - 1
        if event.y >= 1 and (self.total is None or index < self.total):
            if index == self.cursor and event.chain >= 2:
                self.key_enter()
            self.cursor = index

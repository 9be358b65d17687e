"""Search in a LogView: the file scanned in chunks on a worker thread, never on the UI thread;
the match highlighted in every line drawn, the view moved to it.

A mixin, not a widget: the search reads the view's own state (its file, its index, the lines in
view) and moves it, while the view only needs `_highlight` and `match_line` to draw.
"""

from __future__ import annotations

import re

from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from .log_index import find_match, search_patterns


class SearchFinished(Message, bubble=False, namespace="log_view"):
    """The search `number` for `query` found `line` (None: nowhere), past the end or not."""

    def __init__(self, number: int, query: str, line: int | None, wrapped: bool) -> None:
        super().__init__()
        self.number, self.query, self.line, self.wrapped = number, query, line, wrapped


class LogSearch:
    """Mixed into LogView, before the ScrollView (its thread worker is the view's)."""

    search_query = ""
    """What was searched for last; empty: no search."""
    search_status = ""
    """What the status line says of the search."""
    match_line: int | None = None
    """The line of the current match, highlighted as a whole."""
    _highlight: re.Pattern[str] | None = None
    # Searches can finish out of order (an exclusive worker's thread is only marked cancelled,
    # not stopped): each answer carries its search's number; only the newest counts.
    _searches = 0

    def search(self, query: str) -> None:
        """Find `query` from the top line in view on, wrapping round; highlight it everywhere."""
        self.search_query = query
        self._highlight = search_patterns(query)[1] if query else None
        self.match_line = None
        self.refresh()
        self._find(self.scroll_offset.y, backward=False)

    def next_match(self, backward: bool = False) -> None:
        """Find the search's next match after the current one (or before it, `backward`)."""
        if self.match_line is None:
            self._find(self.scroll_offset.y, backward)
        else:
            self._find(self.match_line + (0 if backward else 1), backward)

    def _find(self, from_line: int, backward: bool) -> None:
        self._searches += 1  # an earlier search still on its way is now stale
        if not self.search_query or self.path is None:
            return
        self.search_status = f"searching for {self.search_query!r}…"
        self._changed()
        self._search(self._searches, self.search_query, from_line, backward, self._bytes_seen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-search")
    def _search(self, number: int, query: str, from_line: int, backward: bool, size: int) -> None:
        worker = get_current_worker()
        index = self._index
        try:
            found = find_match(
                self.path,
                query,
                index.start_of(from_line),
                size,
                backward,
                cancelled=lambda: worker.is_cancelled,
            )
        except OSError as exc:
            self.post_message(self.Failed(f"cannot search {self.path}: {exc}"))
            return
        if worker.is_cancelled:
            return
        if found is None:
            self.post_message(SearchFinished(number, query, None, False))
        else:
            offset, wrapped = found
            self.post_message(SearchFinished(number, query, index.line_at(offset), wrapped))

    def on_log_view_search_finished(self, message: SearchFinished) -> None:
        if message.number != self._searches:
            return  # the answer to a search made before the latest one
        if message.line is None:
            self.search_status = f"{message.query!r} not found"
        else:
            self.match_line = message.line
            wrapped = " (wrapped)" if message.wrapped else ""
            self.search_status = f"{message.query!r} at line {message.line + 1:,}{wrapped}"
            self.scroll_to_line(message.line, center=True)
            self.refresh()
        self._changed()

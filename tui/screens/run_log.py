"""One run's log, following it live while the run lives: search, top/bottom, follow on/off.

The log is read by `LogView` (windows of lines, never the whole file, never on the UI thread);
this screen finds the file, says when the run has ended, and shows a status line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Footer, Header, Input, Static

from store import NotFound, Run

from ..widgets.agent_bar import AgentBar
from ..widgets.log_view import LogView
from .live import LiveScreen


class RunLogScreen(LiveScreen):
    BINDINGS = [
        Binding("f", "toggle_follow", "Follow", id="log.follow"),
        Binding("slash", "search", "Search", id="log.search"),
        Binding("n", "next_match", "Next match", id="log.next_match"),
        Binding("N", "previous_match", "Previous match", id="log.previous_match"),
        Binding("g,home", "top", "Top", id="log.top"),
        Binding("G,end", "bottom", "Bottom", id="log.bottom"),
        Binding("escape", "back", "Back", id="log.back"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.run: Run | None = None
        self._run_loader = self.loader("log-run", self._read_run, self._show_run, self._failed)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Input(
            placeholder="search (lower case matches any case); enter finds, n / N next / previous",
            id="log-search",
            classes="filter",
        )
        yield LogView(id="log-view")
        yield Static(id="log-status", classes="status")
        yield AgentBar()
        yield Footer()

    @property
    def log_view(self) -> LogView:
        return self.query_one("#log-view", LogView)

    def on_mount(self) -> None:
        self.sub_title = f"log of run {self.run_id}"
        self.log_view.focus()
        self._update_status()
        self.reload()

    def load(self) -> None:
        """Read the run again, on a thread; the view looks at its file again."""
        self._run_loader.start()
        self.log_view.poke()  # the run may have ended: the view asks, and stops following

    # -- the run ---------------------------------------------------------------------------

    def _read_run(self) -> tuple[Run, Path]:
        store = self.app.stores.get()
        run = store.runs.get(self.run_id)
        return run, store.run_log_path(run.id)

    def _show_run(self, read: tuple[Run, Path]) -> None:
        run, path = read
        self.run = run
        self.sub_title = f"log of run {run.id} · {run.job} · {run.state.value}"
        if self.log_view.path is None:
            self.log_view.open(path, is_done=self._run_has_ended_check())
        self._update_status()

    def _run_has_ended_check(self) -> Callable[[], bool]:
        """`is_done` for the view, called on its thread (which gets a connection of its own)."""
        stores, run_id = self.app.stores, self.run_id

        def run_has_ended() -> bool:
            try:
                return stores.get().runs.get(run_id).state.is_terminal()
            except NotFound:  # deleted under us: nothing more will be written
                return True

        return run_has_ended

    def _failed(self, error: Exception) -> None:
        if isinstance(error, NotFound):
            self.sub_title = f"log of run {self.run_id} · not found"
            self.log_view.show_message(str(error))
        else:
            self.log_view.show_message(self.show_load_failed("the run", error))
        self._update_status()

    # -- status ----------------------------------------------------------------------------

    @on(LogView.Changed)
    def _update_status(self) -> None:
        view = self.log_view
        parts = []
        if view.path is None:
            parts.append(f"run {self.run_id}")
        elif not view.ended and not view.line_count:
            parts.append("waiting for output…")
        elif view.missing:
            parts.append("no output")
        else:
            parts.append(f"{view.line_count:,} lines")
        if view.line_count:
            first, last = view.visible_range
            parts.append(f"showing {first + 1:,}–{last:,}")
        parts.append(
            Content.assemble("follow ", ("on", "bold")) if view.follow else "follow off (f)"
        )
        if view.ended and self.run is not None:
            parts.append(f"run {self.run.state.value}")
        if view.search_status:
            parts.append(view.search_status)
        if view.path is not None:
            parts.append(str(view.path))  # last: long, and cut first
        # Content, not markup: a path or a search may hold anything, half a tag included.
        status = Content(" · ").join(Content(p) if isinstance(p, str) else p for p in parts)
        self.query_one("#log-status", Static).update(status)

    # -- keys ------------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.log_view.follow = not self.log_view.follow

    def action_top(self) -> None:
        self.log_view.scroll_to_line(0)

    def action_bottom(self) -> None:
        self.log_view.scroll_to_end()

    def action_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.add_class("-active")
        box.focus()

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._close_search()
        if query := event.value.strip():
            self.log_view.search(query)
            self.refresh_bindings()  # n and N now have something to find

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_match", "previous_match"):
            return bool(self.query("#log-view") and self.log_view.search_query) or None
        return True

    def action_next_match(self) -> None:
        self.log_view.next_match()

    def action_previous_match(self) -> None:
        self.log_view.next_match(backward=True)

    def _close_search(self) -> None:
        self.query_one("#log-search", Input).remove_class("-active")
        self.log_view.focus()

    def action_back(self) -> None:
        box = self.query_one("#log-search", Input)
        if box.has_class("-active"):
            self._close_search()
        else:
            self.app.pop_screen()

"""One run's log, following it live while the run lives: search, top/bottom, follow on/off.

The log is read by `LogView` (windows of lines, never the whole file, never on the UI thread);
this screen finds the file, says when the run has ended, and shows a status line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from store import NotFound, Run

from ..messages import StoreChanged
from ..widgets.agent_bar import AgentBar
from ..widgets.log_view import LogView


class RunLogScreen(Screen):
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
        # Reads of the run can land out of order (an exclusive worker's thread is only marked
        # cancelled, not stopped): each carries its number, and only the newest one is shown.
        self._reads = 0

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
        self.load_run()

    def on_screen_resume(self) -> None:
        # Not told of changes while hidden (under the help, the run's detail…): catch up.
        if self.is_mounted and self.query("#log-view"):  # resume can come before compose
            self.on_store_changed(StoreChanged())

    def on_store_changed(self, message: StoreChanged) -> None:
        self.load_run()
        self.log_view.poke()  # the run may have ended: the view asks, and stops following

    # -- the run ---------------------------------------------------------------------------

    def load_run(self) -> None:
        """Read the run again, on a thread."""
        self._reads += 1
        self._read_run(self._reads)

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-run")
    def _read_run(self, number: int) -> None:
        store = self.app.stores.get()
        try:
            run = store.runs.get(self.run_id)
        except NotFound as exc:
            self.app.call_from_thread(self._show_missing_run, number, str(exc))
            return
        self.app.call_from_thread(self._show_run, number, run, store.run_log_path(run.id))

    def _show_run(self, number: int, run: Run, path: Path) -> None:
        if not self.is_attached or number != self._reads:  # closed, or a newer read comes
            return
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

    def _show_missing_run(self, number: int, message: str) -> None:
        if not self.is_attached or number != self._reads:
            return
        self.sub_title = f"log of run {self.run_id} · not found"
        self.log_view.show_message(message)
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

"""Where ctrl+s in the launch form leads: the launched item, until an agent claims it (saying
what it waits for), then its run's detail, then the run's log once it starts.

`after_launch: back` in the config file keeps the form's old way (back where it was opened).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Footer, Header, Static

from ..widgets.agent_bar import AgentBar
from .live import LiveScreen


@dataclass(frozen=True)
class ItemRead:
    run_id: str | None  # the run, once an agent claimed the item
    line: str  # what the screen says meanwhile


def read_item(store, item_id: int) -> ItemRead:
    from runners.agent.waiting import waiting_reasons

    run = store.runs.find_for_item(item_id)
    if run is not None:
        return ItemRead(run.id, "")
    item = store.items.get(item_id)
    if item.state.value in ("failed", "cancelled"):
        error = f" at {item.error_stage}: {item.error_message}" if item.error_stage else ""
        return ItemRead(None, f"item {item.id} {item.state.value}{error}")
    reason = next(
        (
            why
            for waiting, why in waiting_reasons(store, store.queues.get(item.queue))
            if waiting.id == item.id
        ),
        "an agent is taking it",
    )
    return ItemRead(None, f"item {item.id} waits on queue {item.queue}: {reason}")


class LaunchedItemScreen(LiveScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="launched.back")]

    def __init__(self, item_id: int) -> None:
        super().__init__()
        self.item_id = item_id
        self.line = ""
        self._item_loader = self.loader("launched-item", self._read, self._show, self._failed)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("loading…", id="launched-status")
        yield AgentBar()
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"item {self.item_id}"
        self.reload()

    def load(self) -> None:
        self._item_loader.start()

    def _read(self) -> ItemRead:
        return read_item(self.app.stores.get(), self.item_id)

    def _failed(self, error: Exception) -> None:
        line = self.show_load_failed("the launched item", error)
        self.query_one("#launched-status", Static).update(Content.styled(line, "red"))

    def _show(self, read: ItemRead) -> None:
        from .run_detail import RunDetailScreen

        if read.run_id is not None and self.is_current:
            # The run exists: its detail takes this screen's place (escape goes where the
            # launch form was opened from), and opens its log once it starts.
            self.app.switch_screen(RunDetailScreen(read.run_id, open_log_when_started=True))
            return
        self.line = read.line
        self.query_one("#launched-status", Static).update(Content(read.line))

"""The Queues screen: each queue with its counts, and its waiting items with why each waits.

Pause and resume a queue, move a waiting item's priority, cancel it, create a queue or edit
its config. Every read and write of the store happens on a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from store import BadInput, Priority, Queue, QueueItem, Store

from ..loading import Answered
from ..timefmt import ago
from ..widgets.agent_bar import AgentBar
from ..widgets.badges import ITEM_STATE_STYLES
from .live import LiveScreen

QUEUE_COLUMNS = (
    "queue",
    "resource",
    "state",
    "max",
    "pending",
    "leased",
    "live runs",
    "claimed",
    "failed",
    "cancelled",
)
ITEM_COLUMNS = ("item", "job", "priority", "state", "enqueued", "waiting because")
_COUNTED = ("pending", "leased", "live_runs", "claimed", "failed", "cancelled")


@dataclass(frozen=True)
class QueuesView:
    """One consistent read of the store: every queue, and the selected one's waiting items."""

    queues: list[Queue]
    counts: dict[int, dict[str, int]]
    selected: Queue | None
    waiting: list[tuple[QueueItem, str]] = field(default_factory=list)


def read_queues(store: Store, selected_name: str | None) -> QueuesView:
    """The queues, with `selected_name` (else the first queue) and why its items wait."""
    from runners.agent.waiting import waiting_reasons

    queues = store.queues.list()
    by_name = {queue.name: queue for queue in queues}
    selected = by_name.get(selected_name or "") or (queues[0] if queues else None)
    waiting = waiting_reasons(store, selected) if selected is not None else []
    return QueuesView(queues, store.queues.counts(), selected, waiting)


# Cells from the store are escaped: a DataTable reads a str cell as markup.


def queue_cells(queue: Queue, counts: dict[str, int]) -> tuple:
    state = Text("paused", style="bold yellow") if queue.paused else Text("active", "green")
    return (
        escape(queue.name),
        escape(queue.resource),
        state,
        str(queue.max_concurrency or "-"),
        *(str(counts.get(key, 0)) for key in _COUNTED),
    )


def item_cells(item: QueueItem, reason: str) -> tuple:
    return (
        str(item.id),
        escape(item.job),
        item.priority.label,
        Text(item.state.value, style=ITEM_STATE_STYLES.get(item.state.value, "")),
        ago(item.created_at),
        escape(reason),
    )


def fill_table(table: DataTable, rows: list[tuple[str, tuple]], keep: str | None) -> None:
    """Replace the rows of `table`, its cursor staying on the row keyed `keep` if it is still
    there, else at the same position."""
    keys = [key for key, _ in rows]
    old_index = table.cursor_row
    if keys == [row.key.value for row in table.ordered_rows]:
        # Same rows in the same order (the usual refresh): update in place, so the view
        # neither flickers nor scrolls under the user.
        for key, cells in rows:
            for column, value in zip(table.columns, cells, strict=True):
                table.update_cell(key, column, value, update_width=True)
    else:
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
    if rows:
        index = keys.index(keep) if keep in keys else min(old_index, len(rows) - 1)
        if index != table.cursor_row:
            table.move_cursor(row=index, animate=False)


def cursor_key(table: DataTable) -> str | None:
    if table.row_count == 0:
        return None
    return table.ordered_rows[table.cursor_row].key.value


class QueuesScreen(LiveScreen):
    BINDINGS = [
        Binding("p", "toggle_pause", "Pause/resume", id="queues.pause"),
        Binding("plus", "raise_priority", "Raise", id="queues.raise"),
        Binding("minus", "lower_priority", "Lower", id="queues.lower"),
        Binding("ctrl+k", "cancel_item", "Cancel item", id="queues.cancel_item"),
        Binding("n", "new_queue", "New queue", id="queues.new"),
        Binding("e", "edit_queue", "Edit config", id="queues.edit"),
    ]

    class Select(Message):
        """Select the queue called `name` (what `:q NAME` posts)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.selected_name: str | None = None
        self.view: QueuesView | None = None
        self._requested: str | None = None  # asked for by Select; said so if it isn't there
        self._queues_loader = self.loader("queues", self._read, self._show, self._failed)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield DataTable(id="queues-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="queue-summary")
        yield DataTable(id="items-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="queues-status", classes="status")
        yield AgentBar()
        yield Footer()

    @property
    def queue_table(self) -> DataTable:
        return self.query_one("#queues-table", DataTable)

    @property
    def item_table(self) -> DataTable:
        return self.query_one("#items-table", DataTable)

    def on_mount(self) -> None:
        self.sub_title = "queues"
        self.queue_table.add_columns(*QUEUE_COLUMNS)
        self.item_table.add_columns(*ITEM_COLUMNS)
        self.watch(self.queue_table, "cursor_coordinate", self._queue_cursor_moved, init=False)
        self.queue_table.focus()
        self.reload()

    def on_queues_screen_select(self, message: Select) -> None:
        self.selected_name = self._requested = message.name
        if self.is_mounted:
            self.reload()  # else on_mount will

    # -- reading -----------------------------------------------------------------------------

    def load(self) -> None:
        self._queues_loader.start(self.selected_name)

    def _read(self, selected_name: str | None) -> tuple[str | None, QueuesView]:
        return selected_name, read_queues(self.app.stores.get(), selected_name)

    def _failed(self, error: Exception) -> None:
        line = self.show_load_failed("the queues", error)
        self.query_one("#queues-status", Static).update(Text(line))

    def _show(self, read: tuple[str | None, QueuesView]) -> None:
        asked_for, view = read
        if asked_for != self.selected_name:
            return  # the read for the selection made since is on its way
        previous = self.view.selected.name if self.view and self.view.selected else None
        self.view = view
        if self._requested is not None:
            if view.selected is None or view.selected.name != self._requested:
                self.notify(f"no queue named {self._requested!r}", severity="warning", markup=False)
            self._requested = None
        self.selected_name = view.selected.name if view.selected else None
        fill_table(
            self.queue_table,
            [(q.name, queue_cells(q, view.counts.get(q.id, {}))) for q in view.queues],
            self.selected_name,
        )
        if self.selected_name != previous:
            self.item_table.clear()  # another queue's items: the cursor starts at the top
        fill_table(
            self.item_table,
            [(str(item.id), item_cells(item, reason)) for item, reason in view.waiting],
            cursor_key(self.item_table),
        )
        self._show_summary(view)

    def _show_summary(self, view: QueuesView) -> None:
        summary = self.query_one("#queue-summary", Static)
        status = self.query_one("#queues-status", Static)
        queue = view.selected
        if queue is None:
            summary.update("")
            status.update("no queues yet: press n to create one")
            return
        from runners.launch.rendering import redact

        limit = queue.max_concurrency or "no limit"
        state = ("paused", "yellow") if queue.paused else ("active", "green")
        # Content, not markup: a config value may hold anything, half a tag ("[/") included.
        summary.update(
            Content.assemble(
                (queue.name, "bold"),
                f" ({queue.resource}) · ",
                state,
                f" · max concurrency {limit}\n",
                ("resource_args", "dim"),
                # The whole config: its `secret_env` names what else to hide.
                f" {json.dumps(redact(queue.config).get('resource_args', {}))}  ",
                ("template variables", "dim"),
                f" {', '.join(queue.template_variables) or 'none'}\n",
                ("waiting items", "bold"),
                f" in dispatch order: {len(view.waiting)}",
            )
        )
        status.update(f"{len(view.queues)} queue(s) · tab: between queues and waiting items")

    # -- the selection -----------------------------------------------------------------------

    def _queue_cursor_moved(self) -> None:
        # Watched, not a RowHighlighted handler: the selection follows the cursor at once, so
        # a read finishing meanwhile can't pull the cursor back to the old queue.
        name = cursor_key(self.queue_table)
        if name is not None and name != self.selected_name:
            self.selected_name = name
            self.reload()

    def _selected_queue(self) -> Queue | None:
        queue = self.view.selected if self.view else None
        if queue is None:
            self.notify("no queue selected: press n to create one", severity="warning", timeout=3)
        return queue

    def _selected_item(self) -> QueueItem | None:
        key = cursor_key(self.item_table)
        items = {str(item.id): item for item, _ in self.view.waiting} if self.view else {}
        item = items.get(key or "")
        if item is None:
            self.notify("no waiting item selected", severity="warning", timeout=3)
        return item

    # -- writing -----------------------------------------------------------------------------

    def _write(self, write: Callable[[Store], str]) -> None:
        """Run `write` on a worker thread; what it returns, or the BadInput it raises, is
        shown as a notification."""

        def run() -> None:
            try:
                message = write(self.app.stores.get())
            except BadInput as exc:
                self.app.post_message(
                    Answered(self.notify, str(exc), severity="error", markup=False)
                )
                return
            self.app.post_message(Answered(self._written, message))

        self.run_worker(run, thread=True, exit_on_error=False, group="queues-write")

    def _written(self, message: str) -> None:
        self.notify(message, timeout=3, markup=False)
        self.reload()

    def action_toggle_pause(self) -> None:
        queue = self._selected_queue()
        if queue is None:
            return
        pause = not queue.paused

        def write(store: Store) -> str:
            store.queues.set_paused(queue.name, pause)
            return f"paused queue {queue.name}" if pause else f"resumed queue {queue.name}"

        self._write(write)

    def action_raise_priority(self) -> None:
        self._move_priority(-1)

    def action_lower_priority(self) -> None:
        self._move_priority(+1)

    def _move_priority(self, step: int) -> None:
        item = self._selected_item()
        if item is None:
            return
        value = item.priority + step  # lower value goes first
        if not Priority.CRITICAL <= value <= Priority.LOW:
            end = "highest" if step < 0 else "lowest"
            self.notify(
                f"item {item.id} is already {item.priority.label}, the {end} priority",
                severity="warning",
                timeout=3,
            )
            return
        priority = Priority(value)

        def write(store: Store) -> str:
            store.items.set_priority(item.id, priority)
            return f"item {item.id}: priority {priority.label}"

        self._write(write)

    def action_cancel_item(self) -> None:
        from .cancelling import confirm_cancel

        if item := self._selected_item():
            confirm_cancel(self, str(item.id), Content(f"item {item.id}"))

    def action_new_queue(self) -> None:
        from .queue_form import QueueFormScreen

        self.app.push_screen(QueueFormScreen(), self._form_closed)

    def action_edit_queue(self) -> None:
        from .queue_form import QueueFormScreen

        if queue := self._selected_queue():
            self.app.push_screen(QueueFormScreen(queue), self._form_closed)

    def _form_closed(self, name: str | None) -> None:
        if name:
            self.selected_name = name
            self.reload()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A bug in a worker is logged by Textual; the user still hears that something failed.
        if event.state == WorkerState.ERROR:
            self.notify(f"failed: {event.worker.error}", severity="error", markup=False)

"""The Runs screen: every run, newest first, live; filter, describe, logs, cancel, relaunch."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Footer, Header, Input, Static

from store import Run, RunState
from store.run_views import MetricColumn, RunFilter, RunOrder, RunWindows

from ..threads import ThreadStores
from ..timefmt import ago, run_duration
from ..widgets.agent_bar import AgentBar
from ..widgets.badges import run_state_style
from ..widgets.table_columns import Column
from ..widgets.window_table import WindowTable
from .live import LiveScreen
from .run_columns import metric_column, next_order, read_table_preferences, save_table_preferences

KNOWN_STATES = tuple(state.value for state in RunState)

# In a narrow terminal (80 columns) job, queue and resource shrink, then the columns with the
# highest `drop` go first, so that STATE and DURATION always show; REASON shows when there is
# room for it (and the status line gives the highlighted run's).
RUN_COLUMNS = [
    Column("run", 8, lambda r: r.id),
    Column("job", 22, lambda r: r.job, min_width=10),
    Column("queue", 14, lambda r: r.queue, min_width=8),
    Column("resource", 13, lambda r: r.resource, min_width=8, drop=2),
    Column("state", 9, lambda r: r.state.value, lambda r: run_state_style(r.state.value)),
    Column("started", 11, lambda r: ago(r.started_at), drop=3),
    Column("duration", 9, lambda r: run_duration(r.started_at, r.ended_at)),
    Column("exit", 4, lambda r: "-" if r.exit_code is None else str(r.exit_code), drop=5),
    Column("gpus", 7, lambda r: ",".join(map(str, r.gpus)) or "-", drop=4),
    Column("reason", 30, lambda r: r.end_reason, min_width=12, drop=6, grow=True),
]


FILTER_KEYS = ("state:", "queue:", "job:", "tag:")
FILTER_DEBOUNCE = 0.05  # a burst of keys is one query (and a superseded one is interrupted)
BAD_FILTER_PAUSE = 0.8  # an unknown state is reported once typing pauses this long


def _unfinished(token: str) -> bool:
    """`s`, `st`, `state:`, `job`: a filter key being typed, not text to search for (a search
    for a letter or two would scan every run for nothing)."""
    return any(key.startswith(token) for key in FILTER_KEYS)


def parse_filter(text: str) -> RunFilter:
    """`state:running queue:gpu job:train tag:best some text` → a RunFilter."""
    states, queue, job, tags, words = [], None, None, [], []
    for token in text.split():
        if _unfinished(token):
            continue
        key, sep, value = token.partition(":")
        if sep and value and key == "state":
            states.extend(s for s in value.split(",") if s)
        elif sep and value and key == "queue":
            queue = value
        elif sep and value and key == "job":
            job = value
        elif sep and value and key == "tag":
            tags.extend(t for t in value.split(",") if t)
        else:
            words.append(token)
    return RunFilter(
        states=tuple(states), queue=queue, job=job, tags=tuple(tags), text=" ".join(words) or None
    )


@dataclass
class RunSource:
    """Runs under a filter, read on worker threads (each with its own connection)."""

    stores: ThreadStores
    run_filter: RunFilter
    order: RunOrder = RunOrder()
    columns: tuple[MetricColumn, ...] = ()
    _running: set = field(default_factory=set)
    _counts: dict = field(default_factory=dict)  # RunWindows' memo of costly counts

    @contextmanager
    def _windows(self):
        conn = self.stores.get().conn
        self._running.add(conn)
        try:
            yield RunWindows(conn, self.order, self.columns, self._counts)
        finally:
            self._running.discard(conn)

    def interrupt(self) -> None:
        """Abort this source's queries still running (the filter changed): a search for a rare
        word scans every run, and its answer is no longer wanted."""
        for conn in list(self._running):
            conn.interrupt()

    def count(self) -> int:
        with self._windows() as windows:
            return windows.count(self.run_filter)

    def at(self, offset: int, limit: int, total: int | None = None) -> list[Run]:
        with self._windows() as windows:
            return windows.at(self.run_filter, offset, limit, total)

    def after(self, row: Run, limit: int) -> list[Run]:
        with self._windows() as windows:
            return windows.after(self.run_filter, row, limit)

    def before(self, row: Run, limit: int) -> list[Run]:
        with self._windows() as windows:
            return windows.before(self.run_filter, row, limit)


class RunsScreen(LiveScreen):
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="runs.filter"),
        Binding("d", "describe", "Describe", id="runs.describe"),
        Binding("l", "logs", "Logs", id="runs.logs"),
        Binding("ctrl+k", "cancel", "Cancel", id="runs.cancel"),
        Binding("r", "relaunch", "Relaunch", id="runs.relaunch"),
        Binding("space", "mark", "Mark", id="runs.mark"),
        Binding("c", "compare", "Compare", id="runs.compare"),
        Binding("m", "metric_columns", "Metric columns", id="runs.metric_columns"),
        Binding("o", "sort", "Sort", id="runs.sort"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="runs.clear_filter"),
    ]

    def compose(self) -> ComposeResult:
        # One small read on the UI thread, before the table's first fetch, so that the first
        # rows come in the remembered order (WAL: it never waits for an agent's write).
        self.metric_columns, self.order = read_table_preferences(self.app.stores.get())
        yield Header(show_clock=False)
        yield Input(
            placeholder="filter: text  state:running  queue:NAME  job:NAME  tag:NAME",
            id="runs-filter",
            classes="filter",
        )
        yield WindowTable(
            self._table_columns(),
            self._source(RunFilter()),
            empty_text="no runs yet: press 3 for Jobs, then L to launch one",
            id="runs-table",
        )
        yield Static(id="runs-status", classes="status")
        yield AgentBar()
        yield Footer()

    @property
    def table(self) -> WindowTable:
        return self.query_one("#runs-table", WindowTable)

    _filter_timer = None

    def on_mount(self) -> None:
        self.sub_title = "runs"
        self.table.focus()
        self.note_read()  # the table reads as it is mounted

    def load(self) -> None:
        self.table.reload()

    @on(WindowTable.Loaded)
    @on(WindowTable.Highlighted)
    def _update_status(self) -> None:
        table = self.table
        total = f"{table.total:,} runs" if table.counted else "counting…"
        text = self.query_one("#runs-filter", Input).value.strip()
        # Content, not markup: the filter is what was typed, half a tag included ("[/").
        shown = Content.assemble(" matching ", (text, "bold")) if text else ""
        position = f" · row {table.cursor + 1:,}" if table.total else ""
        run = table.current_row
        reason = f" · {run.state.value}: {run.end_reason}" if run and run.end_reason else ""
        self.query_one("#runs-status", Static).update(
            Content.assemble(total, shown, position, reason)
        )

    # -- filter ------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.add_class("-active")
        box.focus()

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        run_filter = parse_filter(event.value)
        bad = [s for s in run_filter.states if s not in KNOWN_STATES]
        event.input.set_class(bool(bad), "-invalid")
        if self._bad_filter_timer is not None:
            self._bad_filter_timer.stop()
            self._bad_filter_timer = None
        if bad:
            # `state:f`, `state:fi`… are on their way to `state:finished`: the box turns red at
            # once, the reason is told once typing pauses (or on enter).
            self._bad_state = bad[0]
            self._bad_filter_timer = self.set_timer(
                BAD_FILTER_PAUSE, lambda: self._report_bad_state(bad[0])
            )
            return
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DEBOUNCE, lambda: self._apply_filter(run_filter))

    _bad_filter_timer = None
    _bad_state = ""  # the unknown state the pending report is about

    def _report_bad_state(self, state: str) -> None:
        self._bad_filter_timer = None
        self.notify(
            f"unknown state {state!r}; one of {', '.join(KNOWN_STATES)}",
            severity="warning",
            timeout=4,
            markup=False,  # what was typed, as it is
        )

    def _apply_filter(self, run_filter: RunFilter) -> None:
        self._filter_timer = None
        if run_filter != self.table.source.run_filter:
            self.table.reload(self._source(run_filter))

    # -- summary columns and sort ------------------------------------------------------------

    def _source(self, run_filter: RunFilter) -> RunSource:
        return RunSource(self.app.stores, run_filter, self.order, self.metric_columns)

    def _table_columns(self) -> list[Column]:
        metrics = [metric_column(c, self.order) for c in self.metric_columns]
        # Right after STATE, where a 120-column terminal still shows them: when comparing
        # runs, a metric matters more than when each started.
        after_state = next(i for i, c in enumerate(RUN_COLUMNS) if c.title == "state") + 1
        return [
            Column("", 1, self._mark_cell),
            *RUN_COLUMNS[:after_state],
            *metrics,
            *RUN_COLUMNS[after_state:],
        ]

    def show_columns(self, columns: tuple[MetricColumn, ...], order: RunOrder) -> None:
        """Show these summary columns, the runs in this order, and remember both."""
        self.metric_columns, self.order = columns, order
        # A write waits for the store's write lock, which an agent may hold: not on the UI thread.
        self.run_worker(
            lambda: save_table_preferences(self.app.stores.get(), columns, order),
            thread=True,
            group="runs-preferences",
            exit_on_error=False,
        )
        self.table.set_columns(self._table_columns())
        self.table.reload(self._source(self.table.source.run_filter))
        shown = self.order.column.label if self.order.column else "newest first"
        if self.order.column:
            shown += " (highest first)" if self.order.descending else " (lowest first)"
        self.query_one("#runs-status", Static).update(f"sorted by {shown}")

    def action_metric_columns(self) -> None:
        from .metric_columns import MetricColumnsScreen

        def chosen(columns: tuple[MetricColumn, ...] | None) -> None:
            if columns is None:
                return
            self.show_columns(columns, self.order if self.order.column in columns else RunOrder())

        self.app.push_screen(MetricColumnsScreen(self.metric_columns), chosen)

    def action_sort(self) -> None:
        if not self.metric_columns:
            self.notify("no summary columns to sort by: m chooses them", timeout=3)
            return
        self.show_columns(self.metric_columns, next_order(self.order, self.metric_columns))

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self) -> None:
        if self._bad_filter_timer is not None:  # enter: told now, not after the pause
            self._bad_filter_timer.stop()
            self._report_bad_state(self._bad_state)
            return
        self.table.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        if box.has_focus:
            self.table.focus()
            if box.value:
                return
        if box.value:
            box.value = ""
        box.remove_class("-active")

    # -- actions on the selected run ---------------------------------------------------------

    def _selected(self) -> Run | None:
        run = self.table.current_row
        if run is None:
            self.notify("no run selected", severity="warning", timeout=2)
        return run

    @on(WindowTable.Activated, "#runs-table")
    def _activated(self) -> None:
        self.action_describe()

    marked: set[str] | None = None  # the runs marked for a comparison (space)

    def _mark_cell(self, run) -> str:
        return "●" if self.marked and run.id in self.marked else ""

    def action_mark(self) -> None:
        if (run := self._selected()) is None:
            return
        self.marked = self.marked or set()
        self.marked ^= {run.id}
        self.table.refresh()
        self.query_one("#runs-status", Static).update(
            f"{len(self.marked)} run(s) marked · c compares them" if self.marked else ""
        )

    def action_compare(self) -> None:
        from .run_compare import RunCompareScreen

        if not self.marked or len(self.marked) < 2:
            self.notify("mark two runs or more with space, then c compares them", timeout=4)
            return
        self.app.push_screen(RunCompareScreen(sorted(self.marked)))

    def action_describe(self) -> None:
        from .run_detail import RunDetailScreen

        if run := self._selected():
            self.app.push_screen(RunDetailScreen(run.id))

    def action_logs(self) -> None:
        from .run_log import RunLogScreen

        if run := self._selected():
            self.app.push_screen(RunLogScreen(run.id))

    def action_cancel(self) -> None:
        from .cancelling import confirm_cancel

        run = self._selected()
        if run is None:
            return
        if run.state.is_terminal():
            self.notify(
                f"run {run.id} already ended ({run.state.value})", severity="warning", markup=False
            )
            return
        confirm_cancel(
            self, run.id, Content.assemble("run ", (run.id, "bold"), f" ({run.job} on {run.queue})")
        )

    def action_relaunch(self) -> None:
        from .launch import LaunchScreen

        if run := self._selected():
            self.app.push_screen(LaunchScreen(relaunch_of=run.id))

"""`m` on the Runs screen: choose the runs table's summary columns (`val/loss min`, `acc last`).

Every metric name any run reported is offered with each of its summaries; typing narrows the
list (a store may hold thousands of names). Space ticks a column, ctrl+s keeps the choice (the
Runs screen remembers it in the store), escape leaves the columns as they were.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, SelectionList, Static
from textual.widgets.selection_list import Selection

from store.run_views import STATS, MetricColumn

from ..loading import LoaderHost

MAX_COLUMNS = 6  # more would push the run's own columns off an 120-column terminal
NAMES_SHOWN = 200


class MetricColumnsScreen(LoaderHost, ModalScreen[tuple[MetricColumn, ...] | None]):
    DEFAULT_CSS = """
    MetricColumnsScreen { align: center middle; }
    MetricColumnsScreen > Vertical {
        width: 70; height: 80%; border: round $accent; background: $surface; padding: 0 1;
    }
    MetricColumnsScreen SelectionList { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="columns.cancel"),
        Binding("ctrl+s", "keep", "Keep", id="columns.keep", priority=True),
    ]

    def __init__(self, chosen: tuple[MetricColumn, ...]) -> None:
        super().__init__()
        self.chosen = list(chosen)  # in the order they were ticked: the table's order
        self._names = self.loader("metric-names", self._read_names, self._show, self._failed)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("summary columns · space ticks · ctrl+s keeps · escape cancels")
            yield Input(placeholder="metric name holds…", id="columns-filter")
            yield SelectionList[MetricColumn](id="columns-list")
            yield Static("", id="columns-status", classes="status")

    def on_mount(self) -> None:
        self._names.start("")
        self.query_one(SelectionList).focus()

    def _read_names(self, text: str) -> list[str]:
        return self.app.stores.get().metrics.names(text, NAMES_SHOWN + 1)

    def _show(self, names: list[str]) -> None:
        options = self.query_one(SelectionList)
        options.clear_options()
        # The chosen columns stay listed first, whatever the filter, so they can be unticked.
        offered = list(self.chosen) + [
            MetricColumn(name, stat)
            for name in names[:NAMES_SHOWN]
            for stat in STATS
            if MetricColumn(name, stat) not in self.chosen
        ]
        options.add_options(
            Selection(column.label, column, column in self.chosen) for column in offered
        )
        more = " (more: type to narrow)" if len(names) > NAMES_SHOWN else ""
        status = f"{len(self.chosen)} chosen · {min(len(names), NAMES_SHOWN)} metric(s){more}"
        if not names and not self.chosen:
            status = "no run has reported a metric yet"
        self.query_one("#columns-status", Static).update(status)

    def _failed(self, error: Exception) -> None:
        self.query_one("#columns-status", Static).update(f"could not read the metrics: {error}")

    @on(Input.Changed, "#columns-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._names.start(event.value.strip())

    @on(Input.Submitted, "#columns-filter")
    def _to_list(self) -> None:
        self.query_one(SelectionList).focus()

    @on(SelectionList.SelectionToggled)
    def _toggled(self, event: SelectionList.SelectionToggled) -> None:
        column = event.selection.value
        if column in self.chosen:
            self.chosen.remove(column)
        elif len(self.chosen) >= MAX_COLUMNS:
            event.selection_list.deselect(column)
            self.notify(f"at most {MAX_COLUMNS} summary columns", severity="warning", timeout=3)
            return
        else:
            self.chosen.append(column)
        self.query_one("#columns-status", Static).update(f"{len(self.chosen)} chosen")

    def action_keep(self) -> None:
        self.dismiss(tuple(self.chosen))

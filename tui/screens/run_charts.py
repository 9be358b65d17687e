"""A run's charts: one small chart per metric, updating while the run writes them.

Each chart is read already reduced to its width (store.metrics.buckets: the lowest and highest
value of each column's span of steps, computed in SQL), so a metric of a million points costs
what one of a few hundred does. `s` smooths the curves (an exponential moving average, as
TensorBoard's slider does), `t` puts time on the x-axis instead of the step (each column at the
time its first step was stored, from the run's first point), `/` keeps only the metrics whose
name holds a text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import Footer, Header, Input, Static

from ..widgets.agent_bar import AgentBar
from ..widgets.metric_chart import MetricChart
from .live import LiveScreen

COLUMNS_PER_CHART = 56  # each chart's width in cells (two side by side in 120 columns)
SMOOTHING = 0.8


@dataclass(frozen=True)
class ChartData:
    key: str
    steps: list[float]
    values: list[float]
    times: list[float]  # when each of `steps` was stored (seconds since the epoch; NaN: unknown)


TIME_UNITS = ((7200, 3600, "hours"), (120, 60, "minutes"), (0, 1, "seconds"))


def time_axis(charts: list[ChartData]) -> tuple[list[list[float]], str]:
    """Each chart's x values as time since the run's first point, in one unit for all of them
    (the largest that keeps the span above two of it), and the axis' label."""
    known = [t for chart in charts for t in chart.times if t == t]
    if not known:
        return [[math.nan] * len(chart.times) for chart in charts], "time"
    start, span = min(known), max(known) - min(known)
    size, unit = next((size, unit) for above, size, unit in TIME_UNITS if span >= above)
    return [[(t - start) / size for t in chart.times] for chart in charts], f"{unit} since start"


def smoothed(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """TensorBoard's smoothing: each value pulled toward the ones before it; NaN stays NaN."""
    out, last = [], None
    for value in values:
        if value != value:  # NaN
            out.append(value)
            continue
        last = value if last is None else last * weight + value * (1 - weight)
        out.append(last)
    return out


def bucket_series(store, run_id: str, key: str, width: int) -> tuple[list, list]:
    """(steps, values) of one metric reduced to `width` columns: both ends of each column's
    range, at the column's first step."""
    steps, values = [], []
    for bucket in store.metrics.buckets(run_id, key, width):
        steps += [bucket.step, bucket.step]
        values += [bucket.min, bucket.max]
    return steps, values


def read_charts(store, run_id: str, width: int, with_times: bool = False) -> list[ChartData]:
    """Each metric of the run, reduced to `width` columns, and with `with_times` the time of
    each column (a lookup per column: read only while the time axis shows)."""
    charts = []
    for key in store.metrics.keys(run_id):
        steps, values = bucket_series(store, run_id, key, width)
        times = store.metrics.times_at(run_id, key, steps) if with_times else {}
        charts.append(ChartData(key, steps, values, [times.get(s, math.nan) for s in steps]))
    return charts


class RunChartsScreen(LiveScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="charts.back"),
        Binding("s", "toggle_smoothing", "Smooth", id="charts.smooth"),
        Binding("t", "toggle_time", "Step/time", id="charts.time"),
        Binding("slash", "filter", "Filter", id="charts.filter"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.smoothing = False
        self.by_time = False  # the x-axis: the step, or the time since the run's first point
        self.text = ""
        self.charts: list[ChartData] = []
        self._charts_loader = self.loader("charts", self._read, self._show, self._failed)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Input(placeholder="metrics whose name holds…", id="charts-filter")
        with VerticalScroll(id="charts-scroll"):
            yield Grid(id="charts-grid")
        yield Static("loading…", id="charts-status", classes="status")
        yield AgentBar()
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"run {self.run_id} · charts"
        self.query_one("#charts-filter", Input).display = False  # shown by `/`
        self.query_one("#charts-scroll", VerticalScroll).focus()
        self.reload()

    def load(self) -> None:
        self._charts_loader.start()

    def _read(self) -> list[ChartData]:
        return read_charts(self.app.stores.get(), self.run_id, COLUMNS_PER_CHART, self.by_time)

    def _failed(self, error: Exception) -> None:
        line = self.show_load_failed("the run's metrics", error)
        self.query_one("#charts-status", Static).update(Text(line, style="red"))

    async def _show(self, charts: list[ChartData]) -> None:
        self.charts = charts
        await self._draw()

    async def _draw(self) -> None:
        grid = self.query_one("#charts-grid", Grid)
        shown = [c for c in self.charts if self.text.lower() in c.key.lower()]
        wanted = [f"chart-{index}" for index in range(len(shown))]
        present = [chart.id for chart in grid.query(MetricChart)]
        if present != wanted:  # the metrics changed: charts made again, else updated in place
            await grid.remove_children()
            await grid.mount_all(
                MetricChart(c.key, id=name) for c, name in zip(shown, wanted, strict=True)
            )
        xs, label = [data.steps for data in shown], "step"
        if self.by_time:
            xs, label = time_axis(shown)
        for chart, data, x in zip(grid.query(MetricChart), shown, xs, strict=True):
            chart.title = data.key
            chart.x_label = label
            values = smoothed(data.values) if self.smoothing else data.values
            chart.set_series(data.key, x, values)
        status = self.query_one("#charts-status", Static)
        if not self.charts:
            status.update("no metrics yet: a job reports them through LAUNCHBAY_METRICS_FILE")
        else:
            smooth = " · smoothed" if self.smoothing else ""
            axis = " · x: time" if self.by_time else " · x: step"
            status.update(f"{len(shown)} of {len(self.charts)} metric(s){axis}{smooth}")

    async def action_toggle_smoothing(self) -> None:
        self.smoothing = not self.smoothing
        await self._draw()

    def action_toggle_time(self) -> None:
        self.by_time = not self.by_time
        self.reload()  # the times are read only while they show

    def action_filter(self) -> None:
        box = self.query_one("#charts-filter", Input)
        box.display = True
        box.focus()

    async def on_input_changed(self, event: Input.Changed) -> None:
        self.text = event.value
        await self._draw()

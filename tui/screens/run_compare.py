"""Runs compared: the config keys that differ between them, and each metric's curves of every
run overlaid on one chart (the runs are marked with space on the Runs screen, then `c`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from ..widgets.agent_bar import AgentBar
from ..widgets.metric_chart import MetricChart
from .live import LiveScreen
from .run_charts import COLUMNS_PER_CHART, bucket_series


@dataclass(frozen=True)
class Comparison:
    run_ids: list[str]
    config: dict[str, dict]  # dotted key → {run id: value}, the keys that differ
    curves: dict[str, dict[str, tuple[list, list]]]  # metric → run id → (steps, values)


def read_comparison(store, run_ids: list[str], width: int) -> Comparison:
    from runners.metrics.compare import config_diff

    runs = [store.runs.get(run_id) for run_id in run_ids]
    config = config_diff({run.id: run.spec.get("run_config") or {} for run in runs})
    curves: dict[str, dict[str, tuple[list, list]]] = {}
    for run_id in run_ids:
        for key in store.metrics.keys(run_id):
            curves.setdefault(key, {})[run_id] = bucket_series(store, run_id, key, width)
    return Comparison(run_ids, config, dict(sorted(curves.items())))


class RunCompareScreen(LiveScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="compare.back")]

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = list(run_ids)
        self.comparison: Comparison | None = None
        self._loader = self.loader("compare", self._read, self._show, self._failed)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with VerticalScroll(id="compare-scroll"):
            yield Static(Text("config keys that differ", style="bold"), classes="section")
            yield DataTable(id="compare-config", cursor_type="row", zebra_stripes=True)
            yield Static(Text("metrics, every run overlaid", style="bold"), classes="section")
            yield Grid(id="compare-grid")
        yield Static("loading…", id="compare-status", classes="status")
        yield AgentBar()
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "compare " + " · ".join(self.run_ids)
        self.query_one("#compare-config", DataTable).add_columns("config", *self.run_ids)
        self.reload()

    def load(self) -> None:
        self._loader.start()

    def _read(self) -> Comparison:
        return read_comparison(self.app.stores.get(), self.run_ids, COLUMNS_PER_CHART)

    def _failed(self, error: Exception) -> None:
        line = self.show_load_failed("the runs", error)
        self.query_one("#compare-status", Static).update(Text(line, style="red"))

    async def _show(self, comparison: Comparison) -> None:
        self.comparison = comparison
        table = self.query_one("#compare-config", DataTable)
        table.clear()
        for key, values in comparison.config.items():
            cells = [json.dumps(values[i]) if i in values else "-" for i in comparison.run_ids]
            table.add_row(Text(key), *(Text(cell) for cell in cells), key=key)
        grid = self.query_one("#compare-grid", Grid)
        names = [f"compare-{index}" for index in range(len(comparison.curves))]
        if [chart.id for chart in grid.query(MetricChart)] != names:
            await grid.remove_children()
            await grid.mount_all(
                MetricChart(key, id=name)
                for key, name in zip(comparison.curves, names, strict=True)
            )
        for chart, (key, per_run) in zip(
            grid.query(MetricChart), comparison.curves.items(), strict=True
        ):
            chart.title = key
            for run_id, (steps, values) in per_run.items():
                chart.set_series(run_id, steps, values)
        same = (
            "the same config"
            if not comparison.config
            else f"{len(comparison.config)} config key(s) differ"
        )
        self.query_one("#compare-status", Static).update(
            f"{len(comparison.run_ids)} runs · {same} · {len(comparison.curves)} metric(s)"
        )

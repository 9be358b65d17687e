"""The Sweeps screen: the sweeps; the highlighted one's trials best first with their parameters,
its best config and a text view of each parameter's importance, and a chart of the objective
per trial with the best-so-far line. `l` launches a new run of the best trial's config on the
sweep's queue; enter on a trial opens its run.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Static

from ..widgets.agent_bar import AgentBar
from ..widgets.metric_chart import MetricChart
from .live import LiveScreen

SWEEP_COLUMNS = ("sweep", "name", "method", "state", "trials", "live", "best")
TRIAL_COLUMNS = ("trial", "state", "objective", "run", "params")
IMPORTANCE_BAR = 20


@dataclass(frozen=True)
class SweepsRead:
    sweeps: list  # (Sweep, summary dict)
    selected: object | None  # the highlighted Sweep
    trials: list  # its trials, best first


def number(value) -> str:
    return "-" if value is None else f"{value:.6g}"


class SweepsScreen(LiveScreen):
    BINDINGS = [
        Binding("l", "launch_best", "Launch best config", id="sweeps.launch_best"),
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.selected_id: str | None = None
        self.read_now: SweepsRead | None = None
        self._sweeps_loader = self.loader("sweeps", self._read, self._show, self._failed)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield DataTable(id="sweeps-table", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="trials-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="sweep-panels"):
            yield MetricChart("objective per trial", x_label="trial", id="sweep-chart")
            yield Static(id="sweep-best")
        yield AgentBar()
        yield Footer()

    @property
    def sweeps_table(self) -> DataTable:
        return self.query_one("#sweeps-table", DataTable)

    @property
    def trials_table(self) -> DataTable:
        return self.query_one("#trials-table", DataTable)

    def on_mount(self) -> None:
        self.sub_title = "Sweeps"
        self.sweeps_table.add_columns(*SWEEP_COLUMNS)
        self.trials_table.add_columns(*TRIAL_COLUMNS)
        self.sweeps_table.focus()
        self.reload()

    def load(self) -> None:
        self._sweeps_loader.start(self.selected_id)

    def _read(self, selected_id: str | None) -> SweepsRead:
        from runners.sweeps import analysis

        store = self.app.stores.get()
        sweeps = store.sweeps.list()
        chosen = next((s for s in sweeps if s.id == selected_id), sweeps[0] if sweeps else None)
        rows = [(sweep, analysis.summary(sweep, store.sweeps.trials(sweep.id))) for sweep in sweeps]
        trials = analysis.best_first(chosen, store.sweeps.trials(chosen.id)) if chosen else []
        return SweepsRead(rows, chosen, trials)

    def _failed(self, error: Exception) -> None:
        line = self.show_load_failed("the sweeps", error)
        self.query_one("#sweep-best", Static).update(Text(line, style="red"))

    def _show(self, read: SweepsRead) -> None:
        self.read_now = read
        table = self.sweeps_table
        keys = [sweep.id for sweep, _ in read.sweeps]
        if keys != [row.key.value for row in table.ordered_rows]:
            table.clear()
            for key in keys:
                table.add_row(*([""] * len(SWEEP_COLUMNS)), key=key)
        for sweep, summary in read.sweeps:
            best = summary["best"]["objective"] if summary["best"] else None
            cells = (
                sweep.id,
                sweep.name,
                sweep.config.get("method", ""),
                sweep.state,
                str(summary["trial_count"]),
                str(summary["live"]),
                number(best),
            )
            for column, value in zip(table.columns, cells, strict=True):
                table.update_cell(sweep.id, column, value, update_width=True)
        if read.selected is not None:
            self.selected_id = read.selected.id
        self._show_trials(read)

    def _show_trials(self, read: SweepsRead) -> None:
        from runners.sweeps.analysis import flat_params

        table = self.trials_table
        table.clear()
        for trial in read.trials:
            params = " ".join(f"{k}={_short(v)}" for k, v in flat_params(trial.params).items())
            table.add_row(
                str(trial.number),
                trial.state,
                number(trial.objective),
                trial.run_id or "-",
                params,
                key=str(trial.number),
            )
        self._show_chart(read)
        self._show_best(read)

    def _show_chart(self, read: SweepsRead) -> None:
        from runners.sweeps.analysis import best_so_far

        chart = self.query_one("#sweep-chart", MetricChart)
        scored = sorted(
            (t.number, t.objective)
            for t in read.trials
            if t.objective is not None and t.state == "finished"
        )
        goal = ((read.selected.config.get("metric") or {}) if read.selected else {}).get("goal")
        xs = [float(n) for n, _ in scored]
        objectives = [v for _, v in scored]
        chart.set_series("objective", xs, objectives)
        chart.set_series("best so far", xs, best_so_far(objectives, goal or "minimize"))

    def _show_best(self, read: SweepsRead) -> None:
        from runners.sweeps.analysis import flat_params, importance

        panel = self.query_one("#sweep-best", Static)
        if read.selected is None:
            panel.update(Text("no sweeps yet: launchbay sweep create -j JOB -q QUEUE -c FILE"))
            return
        metric = (read.selected.config.get("metric") or {}).get("name", "-")
        text = Text(f"{read.selected.id} · metric {metric}\n", style="bold")
        best = next((t for t in read.trials if t.objective is not None), None)
        if best is None:
            text.append("no finished trial yet\n")
        else:
            text.append(f"best: trial {best.number} ({metric} {number(best.objective)})\n")
            for key, value in flat_params(best.params).items():
                text.append(f"  {key} = {_short(value)}\n")
        finished = [(t.params, t.objective) for t in read.trials if t.objective is not None]
        shares = importance(finished)
        if shares:
            text.append("\nparameter importance (share of variance)\n", style="bold")
            width = max(len(name) for name in shares)
            for name, share in shares.items():
                filled = round(share * IMPORTANCE_BAR)
                text.append(f"  {name.ljust(width)} ")
                text.append("█" * filled, style="green")
                text.append("░" * (IMPORTANCE_BAR - filled), style="dim")
                text.append(f" {share:.0%}\n")
        panel.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.sweeps_table and event.row_key.value != self.selected_id:
            self.selected_id = event.row_key.value
            self.reload()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table is not self.trials_table or self.read_now is None:
            return
        event.stop()
        trial = self.read_now.trials[event.cursor_row]
        if trial.run_id is None:
            self.notify(f"trial {trial.number} has no run yet", markup=False)
            return
        from .run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(trial.run_id))

    def action_launch_best(self) -> None:
        read = self.read_now
        best = next((t for t in read.trials if t.objective is not None), None) if read else None
        if best is None:
            self.notify("no finished trial to launch from", severity="warning", markup=False)
            return
        sweep = read.selected
        launcher = self.loader(
            "launch-best",
            lambda: _launch_params(self.app.stores.get(), sweep, best.params),
            lambda item_id: self.notify(
                f"enqueued item {item_id}: {sweep.job} on {sweep.queue} with trial"
                f" {best.number}'s config",
                markup=False,
            ),
            lambda error: self.notify(f"could not launch: {error}", severity="error", markup=False),
        )
        launcher.start()


def _launch_params(store, sweep, params: dict) -> int:
    from runners.launch.request import LaunchRequest, enqueue, prepare_launch

    request = LaunchRequest(
        job=sweep.job, queue=sweep.queue, spec={"overrides": {"run_config": params}}
    )
    return enqueue(store, prepare_launch(store, request))


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)

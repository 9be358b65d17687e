"""The Sweeps screen: the sweeps, the highlighted one's trials best first with their params,
its best config and parameter importance, the objective chart with its best-so-far line, and
`l` launching the best trial's config as a new run."""

import json

from helpers_tui import notified, settle
from kit import make_code_job, make_queue
from textual.widgets import DataTable, Static

from runners.sweeps.controller import SweepDriver
from runners.sweeps.create import create_sweep
from runners.sweeps.search import run_config_values
from tui.screens.sweeps import SweepsScreen
from tui.widgets.metric_chart import MetricChart

SIZE = (140, 44)


def _finished_sweep(store, tmp_path) -> tuple:
    """A grid sweep whose four trials ended with objectives as the job would have reported:
    loss = lr * 10 + (0 if opt is adam else 5)."""
    make_queue(store)
    make_code_job(store, tmp_path, "train", "pass")
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"lr": {"values": [0.3, 0.1]}, "opt": {"values": ["sgd", "adam"]}},
    }
    sweep = create_sweep(store, job="train", queue="local", config=config)
    driver = SweepDriver(store, sweep, lambda message: None)
    for number in range(4):
        suggested = driver.searcher.suggest(number)
        params = run_config_values(driver.config, suggested)
        launch = driver._launch_for(sweep, params)
        assert store.sweeps.add_trial(sweep, number, params, suggested, launch) is not None
        loss = params["lr"] * 10 + (0 if params["opt"] == "adam" else 5)
        store.sweeps.end_trial(sweep.id, number, "finished", objective=loss)
    return sweep


def _column(table: DataTable, name: str) -> list[str]:
    index = [str(c.label) for c in table.columns.values()].index(name)
    return [str(table.get_row_at(row)[index]) for row in range(table.row_count)]


async def test_the_sweeps_screen_shows_trials_best_first_the_best_config_and_the_chart(
    store, tmp_path, make_app
):
    sweep = _finished_sweep(store, tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await settle(pilot, lambda: isinstance(app.screen, SweepsScreen), "the Sweeps screen")
        screen = app.screen
        trials = screen.query_one("#trials-table", DataTable)
        await settle(pilot, lambda: trials.row_count == 4, "four trials")
        assert _column(screen.query_one("#sweeps-table", DataTable), "sweep") == [sweep.id]
        assert _column(trials, "objective") == ["1", "3", "6", "8"]
        assert _column(trials, "params")[0] == "lr=0.1 opt=adam"
        best = str(screen.query_one("#sweep-best", Static).render())
        assert "best: trial 3 (loss 1)" in best and "lr = 0.1" in best and "opt = adam" in best
        # opt explains more of the loss (5 apart) than lr (2 apart)
        importance = best.split("parameter importance")[1].splitlines()
        assert importance[1].split()[0] == "opt" and importance[2].split()[0] == "lr"
        chart = screen.query_one("#sweep-chart", MetricChart)
        assert chart.series["objective"] == ([0.0, 1.0, 2.0, 3.0], [8.0, 3.0, 6.0, 1.0])
        assert chart.series["best so far"][1] == [8.0, 3.0, 3.0, 1.0]

        await pilot.press("l")
        await settle(pilot, lambda: any("enqueued item" in n for n in notified(app)), "launched")
    items = store.items.waiting(store.queues.get("local").id)
    launched = [item for item in items if json.loads(item.launch_json).get("sweep_id") is None]
    assert len(launched) == 1
    assert json.loads(launched[0].launch_json)["run_config"] == {"lr": 0.1, "opt": "adam"}

"""Runs compared: marked on the Runs screen with space, then c: the config keys that differ,
and each metric with every run's curve on one chart."""

from helpers_tui import notified, settle
from kit import claimed_run

from store.metrics import Point
from tui.screens.run_compare import RunCompareScreen
from tui.widgets.metric_chart import MetricChart

SIZE = (120, 36)


def _runs(store, tmp_path) -> list[str]:
    ids = []
    for run_id, lr in (("aaaa1111", 0.1), ("bbbb2222", 0.01)):
        spec = {"run_config": {"lr": lr, "epochs": 3, "model": {"width": 64}}}
        claimed_run(store, tmp_path, run_id, spec)
        store.metrics.append(run_id, [Point("loss", lr * (10 - i), step=i) for i in range(10)])
        ids.append(run_id)
    return ids


async def test_two_marked_runs_compare_their_config_and_curves(store, tmp_path, make_app):
    first, second = _runs(store, tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#runs-table")
        await settle(pilot, lambda: table.total == 2 and table.row_at(0) is not None, "runs")
        await pilot.press("c")
        await settle(pilot, lambda: any("mark two runs" in n for n in notified(app)), "a hint")
        await pilot.press("space", "down", "space", "c")
        await settle(pilot, lambda: isinstance(app.screen, RunCompareScreen), "the comparison")
        screen = app.screen
        await settle(pilot, lambda: screen.comparison is not None, "its read")
        assert screen.run_ids == [first, second]
        assert screen.comparison.config == {"lr": {first: 0.1, second: 0.01}}
        config = screen.query_one("#compare-config")
        assert [str(config.get_row_at(0)[i]) for i in range(3)] == ["lr", "0.1", "0.01"]
        await settle(pilot, lambda: len(screen.query(MetricChart)) == 1, "one chart")
        chart = screen.query_one(MetricChart)
        assert chart.title == "loss" and set(chart.series) == {first, second}
        assert max(chart.series[first][1]) == 1.0 and max(chart.series[second][1]) == 0.1


async def test_space_again_unmarks_a_run(store, tmp_path, make_app):
    _runs(store, tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#runs-table")
        await settle(pilot, lambda: table.total == 2 and table.row_at(0) is not None, "runs")
        await pilot.press("space", "down", "space", "space")
        assert len(app.screen.marked) == 1
        await pilot.press("c")
        assert not isinstance(app.screen, RunCompareScreen)

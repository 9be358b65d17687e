"""A run's charts: one per metric, each read already reduced to its width, smoothing and a
filter from the keyboard, and new points shown as they are stored."""

from helpers_tui import settle
from kit import claimed_run

from store.metrics import Point
from tui.screens.run_charts import RunChartsScreen, smoothed
from tui.widgets.metric_chart import MetricChart

SIZE = (120, 36)


def _run(store, tmp_path) -> str:
    return claimed_run(store, tmp_path, "k3x9mf2a")


async def _charts(app, pilot, run_id: str, count: int) -> RunChartsScreen:
    app.goto(f":r {run_id}")
    await settle(pilot, lambda: type(app.screen).__name__ == "RunDetailScreen", "the run")
    await pilot.press("c")
    await settle(pilot, lambda: isinstance(app.screen, RunChartsScreen), "its charts")
    screen = app.screen
    await settle(pilot, lambda: len(screen.query(MetricChart)) == count, f"{count} charts")
    return screen


async def test_each_metric_gets_a_chart_drawn_from_its_width_not_its_points(
    store, tmp_path, make_app
):
    run_id = _run(store, tmp_path)
    store.metrics.append(run_id, [Point("loss", 1 / (i + 1), step=i) for i in range(100_000)])
    store.metrics.append(run_id, [Point("acc", i / 50, step=i) for i in range(50)])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _charts(app, pilot, run_id, 2)
        charts = {chart.title: chart for chart in screen.query(MetricChart)}
        assert set(charts) == {"acc", "loss"}
        await settle(pilot, lambda: charts["loss"].plotted.get("loss"), "the loss plotted")
        xs, ys = charts["loss"].plotted["loss"]
        assert len(xs) <= 2 * charts["loss"].size.width  # never 100,000 points to the plotter
        assert max(ys) == 1.0 and min(ys) < 0.0001  # the first and the last steps kept

        await pilot.press("s")
        await settle(pilot, lambda: screen.smoothing, "smoothing on")
        assert charts["acc"].series["acc"][1] == smoothed(screen.charts[0].values)

        await pilot.press("slash", *"acc")
        await settle(pilot, lambda: len(screen.query(MetricChart)) == 1, "only acc")
        assert screen.query_one(MetricChart).title == "acc"


async def test_points_stored_while_the_charts_show_are_drawn(store, tmp_path, make_app):
    run_id = _run(store, tmp_path)
    store.metrics.append(run_id, [Point("loss", 1.0, step=0)])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _charts(app, pilot, run_id, 1)
        store.metrics.append(run_id, [Point("loss", 0.5, step=1), Point("lr", 0.1, step=1)])
        await settle(pilot, lambda: len(screen.query(MetricChart)) == 2, "the new metric")
        loss = next(c for c in screen.query(MetricChart) if c.title == "loss")
        await settle(pilot, lambda: 0.5 in loss.series["loss"][1], "the new point")


async def test_a_run_without_metrics_says_how_to_report_them(store, tmp_path, make_app):
    run_id = _run(store, tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _charts(app, pilot, run_id, 0)
        status = screen.query_one("#charts-status")
        await settle(pilot, lambda: "LAUNCHBAY_METRICS_FILE" in str(status.render()), "the hint")


def test_smoothing_pulls_each_value_toward_those_before_it_and_keeps_nan():
    nan = float("nan")
    values = smoothed([1.0, 0.0, nan, 0.0], weight=0.5)
    assert values[:2] == [1.0, 0.5] and values[2] != values[2] and values[3] == 0.25


def test_the_charts_benchmark_draws_from_the_stores_buckets():
    from kit import bench_results

    lines = bench_results("charts.py")  # 100,000 points in its quick form
    frame, memory = lines["charts.frame_median"], lines["charts.app_rss_growth"]
    assert frame["points"] == 100_000 and frame["width"] == 56
    assert memory["drawn"] is True  # the app opened the run's charts and drew them


async def test_t_puts_the_time_since_the_first_point_on_the_x_axis(store, tmp_path, make_app):
    run_id = _run(store, tmp_path)
    # A point a minute, from a given start: the axis counts minutes from the first point.
    points = [Point("loss", 1 / (i + 1), step=i * 10, at=1_700_000_000 + 60 * i) for i in range(30)]
    store.metrics.append(run_id, points)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _charts(app, pilot, run_id, 1)
        chart = screen.query_one(MetricChart)
        await settle(pilot, lambda: chart.series.get("loss"), "the loss drawn")
        assert chart.x_label == "step" and max(chart.series["loss"][0]) == 290
        await pilot.press("t")
        await settle(pilot, lambda: chart.x_label == "minutes since start", "time on x")
        xs, ys = chart.series["loss"]
        assert min(xs) == 0 and max(xs) == 29  # the 30th point came 29 minutes after the first
        assert dict(zip(xs, ys, strict=True))[0] == 1.0
        await pilot.press("t")
        await settle(pilot, lambda: chart.x_label == "step", "back to steps")

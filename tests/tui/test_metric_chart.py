"""The metric chart (tui/widgets/metric_chart.py) plots at most two points per column of its
width, keeps every spike and dip, and leaves NaNs out."""

import math

import pytest
from helpers_tui import settle
from textual.app import App, ComposeResult

from tui.widgets.metric_chart import MetricChart, downsample

WIDTH = 80


class ChartApp(App):
    def compose(self) -> ComposeResult:
        yield MetricChart("loss", id="chart")


def _loss_with_spikes(n: int) -> tuple[list[float], list[float]]:
    x = [float(i) for i in range(n)]
    y = [2.0 * math.exp(-i / n) + 0.01 * math.sin(i) for i in range(n)]
    y[54_321] = 1e6  # a one-step spike
    y[77_777] = -1e6  # a one-step dip
    for i in range(0, n, 997):
        y[i] = math.nan  # steps with nothing measured
    return x, y


async def test_a_hundred_thousand_points_are_plotted_as_at_most_two_per_column():
    x, y = _loss_with_spikes(100_000)
    app = ChartApp()
    async with app.run_test(size=(WIDTH, 24)) as pilot:
        chart = app.query_one(MetricChart)
        await settle(pilot, lambda: chart.size.width == WIDTH, "the chart laid out")
        chart.set_series("loss", x, y)
        xs, ys = chart.plotted["loss"]
        assert 0 < len(xs) <= 2 * WIDTH
        assert max(ys) == 1e6 and min(ys) == -1e6  # the spike and the dip survive
        assert not any(math.isnan(v) for v in ys)
        assert xs == sorted(xs)  # still in step order
        await pilot.pause()
        assert "loss" in str(chart.render())  # plotext drew it

        await pilot.resize_terminal(40, 24)  # narrower: fewer points
        await settle(pilot, lambda: len(chart.plotted["loss"][0]) <= 2 * 40, "replotted")
        assert max(chart.plotted["loss"][1]) == 1e6


def test_a_short_series_is_kept_whole_less_its_nans():
    assert downsample([1, 2, 3], [0.5, math.nan, 0.25], 10) == ([1, 3], [0.5, 0.25])


def test_a_series_with_more_x_than_y_is_refused():
    with pytest.raises(ValueError, match="as many x as y"):
        downsample([1, 2, 3], [1.0, 2.0], 10)

"""A chart of one or more metric series (loss, GPU use…) against a step or a time.

textual-plotext rebuilds the whole plot from its data on every paint, so a run's 100,000 steps
would be redrawn point by point each frame. The chart hands it at most two points per column
instead: the series is cut into as many buckets as the chart is wide, and each bucket keeps its
lowest and its highest point. Min and max, not a mean or every n-th point: a loss spike or a
GPU that dropped to zero lasts one step, and is exactly what a chart must not smooth away.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual_plotext import PlotextPlot

Series = tuple[Sequence[float], Sequence[float]]  # (x, y), the same length


def _finite_points(x: Sequence[float], y: Sequence[float]) -> list[tuple[float, float]]:
    """The (x, y) pairs where both are numbers: a NaN is a step with nothing measured."""
    if len(x) != len(y):
        raise ValueError(f"a series needs as many x as y values, got {len(x)} and {len(y)}")
    return [(a, b) for a, b in zip(x, y, strict=True) if not (math.isnan(a) or math.isnan(b))]


def downsample(x: Sequence[float], y: Sequence[float], buckets: int) -> tuple[list, list]:
    """At most 2 × `buckets` points of (x, y), in order, NaNs left out: the lowest and the
    highest point of each of `buckets` runs of consecutive points (see the module's doc)."""
    points = _finite_points(x, y)
    buckets = max(1, buckets)
    if len(points) <= 2 * buckets:
        return [a for a, _ in points], [b for _, b in points]
    kept: list[tuple[float, float]] = []
    size = len(points) / buckets
    for bucket in range(buckets):
        chunk = points[round(bucket * size) : round((bucket + 1) * size)]
        if not chunk:
            continue
        low = min(range(len(chunk)), key=lambda i: chunk[i][1])
        high = max(range(len(chunk)), key=lambda i: chunk[i][1])
        for i in sorted({low, high}):  # in x order, one point if they are the same
            kept.append(chunk[i])
    return [a for a, _ in kept], [b for _, b in kept]


class MetricChart(PlotextPlot):
    """Named series drawn as lines, downsampled to the chart's width before each plot."""

    DEFAULT_CSS = """
    MetricChart { height: 1fr; min-height: 8; }
    """

    def __init__(
        self,
        title: str = "",
        *,
        x_label: str = "step",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.x_label = x_label
        self.series: dict[str, Series] = {}
        """Every series as it was given, by name."""
        self.plotted: dict[str, tuple[list, list]] = {}
        """What was last handed to plotext, by name: the downsampled series."""
        self._plotted_width = 0

    def set_series(self, name: str, x: Sequence[float], y: Sequence[float]) -> None:
        """Add or replace the series `name` (NaN: no value at that x), and plot again."""
        _finite_points(x, y)  # refuse mismatched lengths here, not at the next paint
        self.series[name] = (x, y)
        self._replot()

    def remove_series(self, name: str) -> None:
        self.series.pop(name, None)
        self._replot()

    def on_resize(self) -> None:
        if self.size.width != self._plotted_width:
            self._replot()

    def _replot(self) -> None:
        width = self.size.width
        if not width:
            return  # not laid out yet: on_resize plots once the chart has a width
        self._plotted_width = width
        plt = self.plt
        plt.clear_data()
        plt.title(self.title)
        plt.xlabel(self.x_label)
        self.plotted = {name: downsample(x, y, width) for name, (x, y) in self.series.items()}
        for name, (xs, ys) in self.plotted.items():
            if xs:
                plt.plot(xs, ys, label=name, marker="braille")
        self.refresh()

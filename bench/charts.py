"""A run with 1,000,000 points of one metric, charted: how long one frame takes, and what the
app's memory grows by while it shows it.

- frame: the chart's read (store.metrics.buckets: the series reduced to the chart's width in
  SQL) plus plotext building the plot, as the Charts screen does on each refresh; against the
  baseline of handing plotext the same series reduced in Python from all its points (what a
  chart without the store's blocks would do). Median of repeats; target: at most 100 ms.
- memory: the RSS of this process before the app opens the run's charts and once they are
  drawn (a headless app in this process); target: at most 50 MB more.
"""

import _common  # noqa: I001  (first: fixes sys.path so that `queue` is the stdlib's)

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from bench.seed import seed_runs
from store import Store
from store.metrics import Point

WIDTH = 56  # a chart's columns on the Charts screen (tui/screens/run_charts.py)


def _series(store: Store, run_id: str, n: int) -> None:
    for start in range(0, n, 50_000):
        store.metrics.append(
            run_id,
            [Point("loss", 1.0 / (i + 1), step=i) for i in range(start, min(n, start + 50_000))],
        )


def _frame_from_buckets(store: Store, run_id: str) -> float:
    import plotext as plt
    from textual_plotext import Plot  # noqa: F401  (plotext itself, as the widget uses it)

    from tui.screens.run_charts import bucket_series

    start = time.perf_counter()
    steps, values = bucket_series(store, run_id, "loss", WIDTH)
    plt.clear_figure()
    plt.plotsize(WIDTH, 12)
    plt.plot(steps, values, marker="braille")
    plt.build()
    return (time.perf_counter() - start) * 1000


def _frame_from_points(store: Store, run_id: str) -> float:
    import plotext as plt

    from tui.widgets.metric_chart import downsample

    start = time.perf_counter()
    points = store.metrics.points(run_id, "loss")
    steps, values = downsample([p.step for p in points], [p.value for p in points], WIDTH)
    plt.clear_figure()
    plt.plotsize(WIDTH, 12)
    plt.plot(steps, values, marker="braille")
    plt.build()
    return (time.perf_counter() - start) * 1000


async def _memory_growth(db: Path, run_id: str) -> tuple[float, float, bool]:
    from tui.app import LaunchbayApp
    from tui.config import UserConfig
    from tui.screens.run_charts import RunChartsScreen

    app = LaunchbayApp(db, run_agent=False, offer_sample=False, config=UserConfig())
    process = psutil.Process()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.5)
        before = process.memory_info().rss
        app.push_screen(RunChartsScreen(run_id))
        started, drawn = time.perf_counter(), False
        for _ in range(400):
            await pilot.pause(0.05)
            screen = app.screen
            charts = (
                list(screen.query("MetricChart")) if isinstance(screen, RunChartsScreen) else []
            )
            if charts and all(chart.plotted for chart in charts):
                drawn = True
                break
        shown = (time.perf_counter() - started) * 1000
        after = process.memory_info().rss
    return (after - before) / 2**20, shown, drawn


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    n = 100_000 if args.quick else 1_000_000
    repeats = 3 if args.quick else 7
    with tempfile.TemporaryDirectory(prefix="lb-bench-charts-") as tmp:
        db = Path(tmp) / "lb.db"
        store = Store.open(db)
        seed_runs(store, 1)
        run_id = store.runs.list()[0].id
        _series(store, run_id, n)
        frames = [_frame_from_buckets(store, run_id) for _ in range(repeats)]
        baseline = [_frame_from_points(store, run_id) for _ in range(max(1, repeats // 2))]
        store.close()
        median, base = statistics.median(frames), statistics.median(baseline)
        _common.emit(
            "charts.frame_median", median, "ms", points=n, width=WIDTH, n=repeats,
            baseline=base, baseline_what="the same chart reduced in Python from every point",
            ratio=median / base, target="<= 100", meets_target=median <= 100,
        )  # fmt: skip
        grown, shown, drawn = asyncio.run(_memory_growth(db, run_id))
        _common.emit(
            "charts.app_rss_growth", grown, "MB", points=n, first_draw_ms=shown, drawn=drawn,
            target="<= 50", meets_target=drawn and grown <= 50,
        )  # fmt: skip


if __name__ == "__main__":
    main()

"""The runs table with two summary columns (`val/loss min`, `acc last`) over a big store.

Targets (1,000,000 runs, each with both metrics): first paint <= 1.5 s, and every scrolling key
(down, page down, page up, G, g) repaints in <= 100 ms — newest first, and sorted by
`val/loss min`. Baseline, in the same run on the same store: the Runs screen without summary
columns. Each configuration is a fresh app (Textual warmed up by a first app on an empty store);
the columns and sort are set the way the app remembers them, in the store's preferences.

`--quick`: 20,000 runs.
"""

import _common  # noqa: I001  (first: fixes sys.path so that `queue` is the stdlib's)

import asyncio
import tempfile
import time
from pathlib import Path

from bench._frames import (
    FIRST_PAINT_TARGET_MS,
    SIZE,
    FrameProbe,
    count_runs,
    first_rows_shown,
    make_app,
    repaint_line,
    runs_table,
    scrolling,
    seeded_store,
)
from store import Store
from store.run_views import MetricColumn, RunOrder
from tui.screens.run_columns import save_table_preferences

COLUMNS = (MetricColumn("val/loss", "min"), MetricColumn("acc", "last"))
CONFIGURATIONS = {
    "no_columns": ((), RunOrder()),
    "columns_newest_first": (COLUMNS, RunOrder()),
    "columns_sorted": (COLUMNS, RunOrder(COLUMNS[0])),
}


def arrange(db: Path, columns, order) -> None:
    store = Store.open(db)
    try:
        save_table_preferences(store, columns, order)
    finally:
        store.close()


async def warm_up(folder: Path) -> None:
    app = make_app(folder / "empty.db")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()


async def measure(db: Path, presses: int) -> dict:
    app = make_app(db)
    probe = FrameProbe(app)
    probe.expect(lambda: first_rows_shown(app), "rows")
    started = time.perf_counter()
    async with app.run_test(size=SIZE):
        first_paint = ((await probe.met("rows")) - started) * 1000
        table = runs_table(app)
        first = table.row_at(0)
        shown = [c.title for c in table.columns]
        times = await scrolling(probe, table, presses)
    return {"first_paint_ms": first_paint, "times": times, "titles": shown, "first": first}


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    n, presses = (20_000, 8) if args.quick else (1_000_000, 20)
    db, reused, seconds = seeded_store(n, metrics=True)
    _common.emit(
        "run_columns.store",
        count_runs(db),
        "runs",
        seeding=f"reused {db}" if reused else f"seeded {db} in {seconds:.1f} s",
        metrics_per_run=len(COLUMNS),
    )
    with tempfile.TemporaryDirectory(prefix="lb-bench-columns-") as folder:
        asyncio.run(warm_up(Path(folder)))
    results = {}
    for name, (columns, order) in CONFIGURATIONS.items():
        arrange(db, columns, order)
        results[name] = asyncio.run(measure(db, presses))
    arrange(db, (), RunOrder())
    baseline = results["no_columns"]["first_paint_ms"]
    for name, result in results.items():
        first = result["first_paint_ms"]
        row = result["first"]
        _common.emit(
            f"run_columns.first_paint.{name}",
            first,
            "ms",
            n=n,
            baseline=baseline,
            ratio=first / baseline,
            target=f"<= {FIRST_PAINT_TARGET_MS:.0f}",
            meets_target=first <= FIRST_PAINT_TARGET_MS,
            summary_columns=[t for t in result["titles"] if "/" in t or t.startswith("acc")],
            first_row_values={c.label: row.metrics.get(c) for c in COLUMNS},
        )
        for key, values in result["times"].items():
            repaint_line(f"run_columns.repaint_{key}.{name}", values, n=n, presses=len(values))


if __name__ == "__main__":
    main()

"""The app over a big store: first paint, repaint on scrolling and filter keys, and memory.

Targets (with 1,000,000 runs): the first screen is painted in <= 1.5 s, a scroll or filter key
repaints in <= 100 ms, RSS stays <= 300 MB. Baseline, measured in the same run: a plain Textual
`DataTable` filled with 100,000 of the same rows (`add_rows`), timed to its first paint.

The app runs headless in this process (`run_test`, 120x40), on a store seeded once per N and
kept in the temp dir (`bench/seed.py`: ~40 s for a million runs). Every latency ends at a
frame: the probe wraps the app's `_display`, through which each screen update passes, and
stops the clock at the first frame drawn once a condition holds (e.g. every line of the table
in view has its row). Headless Textual skips turning an update into terminal bytes; the probe
does it anyway, so a frame costs what it costs in a terminal. Between presses the bench lets
the app settle (SETTLE_SECONDS), as a user reading the rows would. Each press is judged
against the target; the median is quoted as the value.

An app on an empty store runs first, in the same process: it warms Textual up (so the first
paint measured is the app's, not the interpreter's first CSS parse; a fresh process is timed
separately, imports included) and its memory is the RSS baseline.

The log view: `l` on a running run opens its log while a writer process appends 1,000,000
lines at 100,000 lines/s (block-buffered, as a program's redirected stdout); page up, up, up
and G are pressed in turn until it is done, each timed to the frame showing its effect with
every line in view read. Then: all lines counted, the last one shown, the decoded lines held,
and what the stream added to RSS (the line index costs 8 bytes a line by design).

`--quick`: 20,000 runs and a 10,000-row baseline; 100,000 log lines at 50,000 lines/s.
"""

import _common  # noqa: I001  (first: fixes sys.path so that `queue` is the stdlib's)

# The cold-start child process imports this module: whatever the app does not load when it
# starts (the seeding, the log screen) is imported inside the functions that use it.

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input

from store import Store
from store.run_views import RunFilter, RunWindows
from tui.screens.runs import RUN_COLUMNS, parse_filter
from tui.widgets.window_table import WindowTable

from bench._frames import (
    FIRST_PAINT_TARGET_MS,
    SIZE,
    FrameProbe,
    FullCollections,
    count_runs,
    finite,
    first_rows_shown,
    make_app,
    memory_mb,
    post_keys,
    press_until,
    repaint_line,
    runs_table,
    scrolling,
    seeded_store,
    shows_rows,
    status_text,
    timed_press,
)

RSS_TARGET_MB = 300.0
FILTERS = ("state:running", "job:job-3")  # typed key by key, each prefix a filter
LOG_KEYS = ("pageup", "up", "up", "G")  # pressed in turn while the log streams
# A run's program writing to its log: block-buffered like stdout redirected to a file, paced
# to `rate` lines a second (the pause is the program's pace, not a poll).
LOG_WRITER = """
import sys, time
path, lines, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
per_tick = max(1, int(rate / 100))
started = time.monotonic()
with open(path, "a", buffering=8192) as f:
    for first in range(0, lines, per_tick):
        for i in range(first, min(lines, first + per_tick)):
            f.write(f"step {i} loss={1 / (i + 1):.6f} lr=0.001 tokens/s=12345.6\\n")
        ahead = started + (first + per_tick) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
"""


async def bench_empty_store(folder: Path) -> dict:
    """The app on an empty store: its memory is what Python and Textual cost without rows."""
    app = make_app(folder / "empty.db")
    probe = FrameProbe(app)
    probe.expect(lambda: (t := runs_table(app)) is not None and t.total == 0)
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        first_paint = (await probe.met()) - started
        for key in ("down", "pagedown", "G", "g", "slash", "x", "escape", "escape"):
            await pilot.press(key)
        await pilot.pause()
        gc.collect()
        rss, _ = memory_mb()
    return {"first_paint_ms": first_paint * 1000, "rss_mb": rss}


async def bench_launchbay(db: Path, n: int, presses: int) -> dict:
    """The runs screen over a store of `n` runs: first paint, count, scrolling, filtering."""
    result: dict = {}
    app = make_app(db)
    probe = FrameProbe(app)
    probe.expect(lambda: first_rows_shown(app), "rows")
    probe.expect(lambda: f"{n:,} runs" in status_text(app), "count")
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        result["first_paint_ms"] = ((await probe.met("rows")) - started) * 1000
        table = runs_table(app)
        result["status_at_first_paint"] = status_text(app)
        result["counted_ms"] = ((await probe.met("count")) - started) * 1000
        result["screenshot_has_first_run"] = table.row_at(0).id in app.export_screenshot()
        with FullCollections() as collections:
            result["scroll"] = await scrolling(probe, table, presses)
            result["keystrokes"] = await filtering(probe, table)
        result["full_gc_ms"] = collections.pauses
        await pilot.pause()
        gc.collect()
        result["rss_mb"], result["peak_rss_mb"] = memory_mb()
    return result


async def filtering(probe: FrameProbe, table: WindowTable) -> list:
    """(text typed so far, milliseconds) for each key of each of FILTERS, typed into the box."""
    box = table.screen.query_one("#runs-filter", Input)
    keystrokes = []
    for text in FILTERS:
        await press_until(probe, "slash", lambda: box.has_focus)
        for i in range(1, len(text) + 1):
            typed = text[:i]
            ms = await timed_press(probe, typed[-1], filtered(box, table, typed))
            keystrokes.append((typed, ms))
        # Leave the box, then clear it: the table goes back to all runs.
        await press_until(probe, "escape", lambda: table.has_focus)
        await press_until(
            probe,
            "escape",
            lambda: table.source.run_filter == RunFilter() and shows_rows(table),
        )
    return keystrokes


def filtered(box: Input, table: WindowTable, typed: str) -> Callable[[], bool]:
    """The condition for a keystroke in the filter box: the box shows `typed` and, when that is
    a filter the screen accepts, the table shows its first rows (or that there are none)."""
    wanted = parse_filter(typed)

    def condition() -> bool:
        if box.value != typed:
            return False
        if box.has_class("-invalid"):
            return True  # refused with a warning ("state:r…"): the table keeps its rows
        return table.source.run_filter == wanted and shows_rows(table)

    return condition


# -- the log view ---------------------------------------------------------------------------------


def live_run_store(folder: Path) -> tuple[Path, Path]:
    """A small store whose newest run (the runs table's first row) is running: (database,
    where that run's log goes)."""
    from bench import seed

    db = folder / "log.db"
    store = Store.open(db)
    try:
        seed.seed_runs(store, 3)
        (run_id,) = store.conn.execute(
            "SELECT id FROM runs ORDER BY created_at DESC, id DESC LIMIT 1"
        ).fetchone()
        # Plain SQL, like the seeding: the store's API would not move an ended run back.
        store.conn.execute(
            "UPDATE runs SET state = 'running', ended_at = NULL, exit_code = NULL WHERE id = ?",
            (run_id,),
        )
        log = store.run_dir(run_id) / "output.log"
    finally:
        store.close()
    log.parent.mkdir(parents=True)
    return db, log


async def bench_log(folder: Path, lines: int, rate: float) -> dict:
    """The log screen (`l` on the runs table) following a run that writes `lines` lines at
    `rate` a second: milliseconds per key pressed meanwhile, then memory and the last line."""
    from tui.screens.run_log import RunLogScreen
    from tui.widgets.log_view import LogView

    db, log = live_run_store(folder)
    app = make_app(db)
    probe = FrameProbe(app)
    probe.expect(lambda: first_rows_shown(app))
    async with app.run_test(size=SIZE):
        await probe.met()

        def log_view() -> LogView | None:
            screen = app.screen
            found = screen.query(LogView) if isinstance(screen, RunLogScreen) else None
            return found.first() if found else None  # none while the screen composes

        await press_until(probe, "l", lambda: (v := log_view()) and v.path is not None)
        view = log_view()
        gc.collect()
        rss_before, _ = memory_mb()

        last = f"step {lines - 1} "
        probe.expect(
            lambda: any(line and line.startswith(last) for line in view.visible_lines()), "last"
        )
        following = {"frames": 0, "placeholders": 0}

        def count_frame() -> None:
            if view.follow:
                following["frames"] += 1
                following["placeholders"] += None in view.visible_lines()

        probe.on_frame = count_frame
        writer = subprocess.Popen(
            [sys.executable, "-c", LOG_WRITER, str(log), str(lines), str(rate)]
        )
        try:
            with FullCollections() as collections:
                times = await keys_while_streaming(probe, view, writer)
        finally:
            writer.wait()
            probe.on_frame = None
        ended = time.perf_counter()
        post_keys(app, "G")  # the loop may have ended away from the bottom
        view.refresh()  # a frame, even if the last line was already drawn
        last_shown_ms = max(0.0, (await probe.met("last")) - ended) * 1000
        gc.collect()
        rss_after, _ = memory_mb()
        return {
            "times": times,
            "line_count": view.line_count,
            "last_shown_ms": last_shown_ms,
            "log_mb": log.stat().st_size / 2**20,
            "rss_before_mb": rss_before,
            "rss_after_mb": rss_after,
            "cached_lines": view.cached_line_count,
            "max_cached_lines": view.max_cached_lines,
            "following": following,
            "full_gc_ms": collections.pauses,
        }


async def keys_while_streaming(probe: FrameProbe, view, writer: subprocess.Popen) -> dict:
    """Milliseconds per press of each of LOG_KEYS, pressed in turn until the writer exits."""
    probe.expect(lambda: view.line_count > 10 * view.size.height)  # room to page up
    await probe.met()
    times: dict[str, list[float]] = {key: [] for key in LOG_KEYS}
    while writer.poll() is None:
        for key in LOG_KEYS:
            times[key].append(await timed_press(probe, key, log_key_shown(view, key)))
    return times


def log_key_shown(view, key: str) -> Callable[[], bool]:
    """The condition for `key`'s effect on the log view being drawn, every line in view read:
    G back at the bottom and following; up one line higher; pageup no longer following."""
    top = view.scroll_offset.y

    def condition() -> bool:
        if None in view.visible_lines():
            return False
        if key == "G":
            return view.follow and view.scroll_offset.y >= view.max_scroll_y
        if key == "up":
            return view.scroll_offset.y == top - 1
        return not view.follow

    return condition


# -- the baseline: a plain DataTable -------------------------------------------------------------


class DataTableApp(App):
    """What the runs screen would be without windowing: every row handed to a DataTable."""

    def __init__(self, rows: list[tuple[str, ...]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*(column.title for column in RUN_COLUMNS))
        table.add_rows(self.rows)
        table.focus()


def datatable_rows(db: Path, count: int) -> tuple[list[tuple[str, ...]], float]:
    """The newest `count` runs as the runs screen formats them, and the seconds it took."""
    started = time.perf_counter()
    store = Store.open(db)
    try:
        runs = RunWindows(store.conn).at(RunFilter(), 0, count)
    finally:
        store.close()
    rows = [tuple(column.cell(run) for column in RUN_COLUMNS) for run in runs]
    return rows, time.perf_counter() - started


async def bench_datatable(rows: list[tuple[str, ...]]) -> float:
    """Milliseconds from creating the app to its first frame with the rows in it."""
    started = time.perf_counter()
    app = DataTableApp(rows)
    probe = FrameProbe(app)
    probe.expect(lambda: app.is_mounted and app.query_one(DataTable).row_count == len(rows))
    async with app.run_test(size=SIZE):
        return ((await probe.met()) - started) * 1000


# -- a cold start --------------------------------------------------------------------------------


def cold_start(db: Path) -> dict:
    """From spawning a fresh Python to its first frame with rows: {"first_paint_ms",
    "imported_ms"}, the latter when this module's imports (the app's) were done."""
    started = time.time()  # CLOCK_REALTIME: the child reads the same clock
    out = subprocess.run(
        [sys.executable, __file__, "--cold-child", str(db), "--t0", repr(started)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


async def cold_child(db: Path, t0: float, imported: float) -> None:
    app = make_app(db)
    probe = FrameProbe(app)
    probe.expect(lambda: first_rows_shown(app))
    async with app.run_test(size=SIZE):
        await probe.met()
        painted = time.time()
    print(
        json.dumps({"first_paint_ms": (painted - t0) * 1000, "imported_ms": (imported - t0) * 1000})
    )


# -- the run -------------------------------------------------------------------------------------


def gc_line(metric: str, pauses: list[float], when: str) -> None:
    _common.emit(
        metric,
        len(pauses),
        "collections",
        max_ms=max(pauses, default=0.0),
        total_ms=sum(pauses),
        note=f"full (generation 2) GC collections {when}: each stops the app",
    )


def report(n: int, seeding: str, empty: dict, ours: dict, cold: dict, baseline: dict) -> None:
    _common.emit("tui.store", n, "runs", seeding=seeding)
    first = ours["first_paint_ms"]
    _common.emit(
        "tui.first_paint",
        first,
        "ms",
        n=n,
        baseline=baseline["first_paint_ms"],
        baseline_n=baseline["rows"],
        ratio=first / baseline["first_paint_ms"],
        target=f"<= {FIRST_PAINT_TARGET_MS:.0f}",
        meets_target=first <= FIRST_PAINT_TARGET_MS,
        empty_store_ms=empty["first_paint_ms"],
        status_line=ours["status_at_first_paint"],
        screenshot_has_first_run=ours["screenshot_has_first_run"],
        note="from creating the app (Textual warmed up) to a frame showing the first rows;"
        " baseline: a DataTable with baseline_n rows, read beforehand"
        f" ({baseline['read_ms']:.0f} ms, not counted); ratio < 1: faster than the baseline",
    )
    _common.emit(
        "tui.first_paint_cold",
        cold["first_paint_ms"],
        "ms",
        n=n,
        imported_ms=cold["imported_ms"],
        runs=cold["runs"],
        target=f"<= {FIRST_PAINT_TARGET_MS:.0f}",
        meets_target=cold["first_paint_ms"] <= FIRST_PAINT_TARGET_MS,
        note="median over fresh python processes, from spawn; imported_ms: the app's imports done",
    )
    _common.emit("tui.count_shown", ours["counted_ms"], "ms", n=n, note="status line shows N runs")
    for key, values in ours["scroll"].items():
        repaint_line(f"tui.repaint_{key}", values, n=n, presses=len(values))
    keys = ours["keystrokes"]
    repaint_line(
        "tui.repaint_filter_key",
        [ms for _, ms in keys],
        n=n,
        keystrokes=len(keys),
        per_key={typed: finite(round(ms, 1)) for typed, ms in keys},
    )
    gc_line("tui.full_gc_pauses", ours["full_gc_ms"], "during the scroll and filter presses")
    _common.emit(
        "tui.rss",
        ours["rss_mb"],
        "MB",
        n=n,
        baseline=empty["rss_mb"],
        baseline_name="the same app on an empty store, same process, measured first",
        added_mb=ours["rss_mb"] - empty["rss_mb"],
        peak_mb=ours["peak_rss_mb"],
        target=f"<= {RSS_TARGET_MB:.0f} (peak)",
        meets_target=ours["peak_rss_mb"] <= RSS_TARGET_MB,
    )


def report_log(lines: int, rate: float, result: dict) -> None:
    stream = f"{lines:,} lines written at {rate:,.0f} lines/s"
    for key, values in result["times"].items():
        repaint_line(f"tui.log_repaint_{key}", values, presses=len(values), during=stream)
    _common.emit(
        "tui.log_followed",
        result["line_count"],
        "lines",
        last_line_shown_ms=result["last_shown_ms"],
        log_mb=result["log_mb"],
        target=f"== {lines}",
        meets_target=result["line_count"] == lines,
        note="last_line_shown_ms: from the writer's exit to a frame showing its last line",
    )
    following = result["following"]
    _common.emit(
        "tui.log_placeholder_frames",
        100 * following["placeholders"] / max(1, following["frames"]),
        "% of frames",
        frames=following["frames"],
        during=stream,
        note="frames drawn while following in which a line in view was still a placeholder"
        " (not read yet)",
    )
    gc_line("tui.log_full_gc_pauses", result["full_gc_ms"], "while the log streamed")
    added = result["rss_after_mb"] - result["rss_before_mb"]
    _common.emit(
        "tui.log_rss_added",
        added,
        "MB",
        lines=lines,
        rss_mb=result["rss_after_mb"],
        decoded_lines_held=result["cached_lines"],
        decoded_lines_max=result["max_cached_lines"],
        target=f"decoded lines held <= max, RSS <= {RSS_TARGET_MB:.0f}",
        meets_target=result["cached_lines"] <= result["max_cached_lines"]
        and result["rss_after_mb"] <= RSS_TARGET_MB,
        note="RSS with the log screen open, after the stream minus before it",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N: seconds, not minutes")
    parser.add_argument("--cold-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        asyncio.run(cold_child(args.cold_child, args.t0, time.time()))
        return
    n, baseline_n, presses, cold_runs = (
        (20_000, 10_000, 10, 1) if args.quick else (1_000_000, 100_000, 20, 3)
    )
    log_lines, log_rate = (100_000, 50_000.0) if args.quick else (1_000_000, 100_000.0)
    db, reused, seed_seconds = seeded_store(n)
    seeding = f"reused {db}" if reused else f"seeded {db} in {seed_seconds:.1f} s"
    n = count_runs(db)
    with tempfile.TemporaryDirectory(prefix="lb-bench-tui-") as folder:
        empty = asyncio.run(bench_empty_store(Path(folder)))
    ours = asyncio.run(bench_launchbay(db, n, presses))
    with tempfile.TemporaryDirectory(prefix="lb-bench-tui-") as folder:
        log = asyncio.run(bench_log(Path(folder), log_lines, log_rate))
    colds = [cold_start(db) for _ in range(cold_runs)]
    cold = {key: _common.median([c[key] for c in colds]) for key in colds[0]}
    cold["runs"] = cold_runs
    rows, read_seconds = datatable_rows(db, baseline_n)
    baseline = {
        "first_paint_ms": asyncio.run(bench_datatable(rows)),
        "rows": baseline_n,
        "read_ms": read_seconds * 1000,
    }
    report(n, seeding, empty, ours, cold, baseline)
    report_log(log_lines, log_rate, log)


if __name__ == "__main__":
    main()

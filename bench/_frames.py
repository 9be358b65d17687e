"""What the app's benchmarks share: a store of N runs kept between runs, frames timed as a
terminal would get them, key presses as the driver posts them, and the latency lines.

Imported after `_common` (which fixes sys.path). Every latency ends at a frame: FrameProbe wraps
the app's `_display`, through which each screen update passes, and stops the clock at the first
frame drawn once a condition holds.
"""

import _common  # noqa: I001  (the script's own, imported first: it fixes sys.path)
import asyncio
import gc
import hashlib
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.app import App

from store import Store
from store.schema_version import SCHEMA_VERSION
from tui.app import LaunchbayApp
from tui.config import UserConfig
from tui.screens.runs import RunsScreen
from tui.widgets.window_table import WindowTable

SIZE = (120, 40)
TIMEOUT = 60.0  # for any one condition; a press that takes longer is reported as inf
SETTLE_SECONDS = 0.05
KEY_NAMES = {":": "colon", "-": "minus", "/": "slash"}  # the characters typed that have names
FIRST_PAINT_TARGET_MS = 1500.0
REPAINT_TARGET_MS = 100.0


# -- the store -----------------------------------------------------------------------------------


def seeded_store(n: int, metrics: bool = False) -> tuple[Path, bool, float]:
    """A store seeded with `n` runs: (path, reused, seconds spent seeding). Kept in the temp
    dir under a name keyed by n, the schema version and bench/seed.py's source, so reruns skip
    seeding. (A few of the n random run ids collide and are dropped: see `count_runs`.)

    The seeding runs in a child process: it builds a million rows at once, and in this
    process its peak would be reported as the app's (VmHWM never goes down)."""
    seeder = Path(__file__).with_name("seed.py")
    recipe = hashlib.sha256(seeder.read_bytes()).hexdigest()[:8]
    kind = "-metrics" if metrics else ""
    name = f"launchbay-bench-tui-{n}{kind}-s{SCHEMA_VERSION}-{recipe}.db"
    path = Path(tempfile.gettempdir()) / name
    if path.exists():
        return path, True, 0.0
    partial = path.with_name(path.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bench.seed", str(partial), str(n)] + ["--metrics"] * metrics,
        check=True,
        cwd=seeder.parent.parent,  # the repository: `bench` is a package there
    )
    partial.rename(path)  # only a complete store gets the name that is reused
    return path, False, time.perf_counter() - started


def count_runs(db: Path) -> int:
    store = Store.open(db)
    try:
        return store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        store.close()


def memory_mb() -> tuple[float, float]:
    """This process's (resident, peak resident) memory in MB, from /proc/self/status."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return tuple(int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))


# -- frames and pauses ---------------------------------------------------------------------------


class FrameProbe:
    """The times of the first frames drawn once given conditions hold."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._display = app._display
        self._waiting: dict[str, tuple[Callable[[], bool], asyncio.Event]] = {}
        self._met_at: dict[str, float] = {}
        self.on_frame: Callable[[], None] | None = None  # called after each frame drawn
        app._display = self._on_display

    def _on_display(self, screen, renderable) -> None:
        self._display(screen, renderable)
        if renderable is None or self.app._batch_count:
            return  # nothing was drawn
        renderable.render_segments(self.app.console)  # what a terminal would be sent
        if self.on_frame is not None:
            self.on_frame()
        for name, (condition, met) in list(self._waiting.items()):
            if condition():
                del self._waiting[name]
                self._met_at[name] = time.perf_counter()
                met.set()

    def expect(self, condition: Callable[[], bool], name: str = "") -> None:
        """Watch frames from now on for the first one drawn while `condition()` holds. Call it
        before the action: once the condition holds, the app may draw no further frame."""
        self._waiting[name] = (condition, asyncio.Event())

    async def met(self, name: str = "") -> float:
        """The perf_counter time of that frame (waits for it; TimeoutError after TIMEOUT)."""
        if name in self._waiting:
            await asyncio.wait_for(self._waiting[name][1].wait(), TIMEOUT)
        return self._met_at.pop(name)


class FullCollections:
    """The pauses (ms) of the cyclic GC's full collections while in the `with` block: the
    presses that meet one are the slow ones."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __enter__(self) -> "FullCollections":
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._started) * 1000)


def shows_rows(table: WindowTable) -> bool:
    """Every line of the table in view has its row: no placeholder is drawn."""
    if table.total is None:
        return False
    top = table.scroll_offset.y
    end = min(table.total, top + table.size.height - 1)  # one line is the header
    return all(table.row_at(i) is not None for i in range(top, end))


def post_keys(app: App, keys: str | tuple[str, ...]) -> None:
    """Press `keys` (characters or key names) as the terminal driver would: posted, not
    awaited. (`Pilot.press` then waits for the process to go idle, up to 2 s while the app's
    threads work: a user does not wait for that, and a stream would pass between presses.)"""
    for key in (keys,) if isinstance(keys, str) else keys:
        app.post_message(events.Key(KEY_NAMES.get(key, key), key if len(key) == 1 else None))


async def timed_press(
    probe: FrameProbe, keys: str | tuple[str, ...], condition: Callable[[], bool]
) -> float:
    """Milliseconds from pressing `keys` to the first frame drawn once `condition()` holds
    (inf if none is within TIMEOUT)."""
    try:
        return await press_until(probe, keys, condition)
    except TimeoutError:
        return float("inf")


async def press_until(
    probe: FrameProbe, keys: str | tuple[str, ...], condition: Callable[[], bool]
) -> float:
    """Like `timed_press`, for a step that must succeed: TimeoutError if it does not."""
    probe.expect(condition)
    started = time.perf_counter()
    post_keys(probe.app, keys)
    elapsed = (await probe.met()) - started
    await asyncio.sleep(SETTLE_SECONDS)
    return elapsed * 1000


# -- launchbay's app -----------------------------------------------------------------------------


def make_app(db: Path) -> LaunchbayApp:
    return LaunchbayApp(db, run_agent=False, offer_sample=False, config=UserConfig())


def runs_table(app: App) -> WindowTable | None:
    screen = app.screen
    if not isinstance(screen, RunsScreen) or not screen.is_mounted:
        return None
    found = screen.query("#runs-table")
    return found.first(WindowTable) if found else None


def first_rows_shown(app: App) -> bool:
    table = runs_table(app)
    return table is not None and table.row_at(0) is not None and shows_rows(table)


def status_text(app: App) -> str:
    """The runs screen's status line ("1,000,000 runs · row 1"), or "" before it is shown."""
    if runs_table(app) is None:
        return ""
    return str(app.screen.query_one("#runs-status").render())


async def scrolling(probe: FrameProbe, table: WindowTable, presses: int) -> dict:
    """Milliseconds per press, by key: down, page down, page up, then jumps to the end and
    back. Before each jump the table is reloaded (as a store change does), so that the rows it
    jumps to are not still held from the previous jump."""

    def cursor_at(index: int) -> Callable[[], bool]:
        return lambda: table.cursor == index and shows_rows(table)

    def clamp(index: int) -> int:
        return max(0, min(index, table.total - 1))

    view = table.size.height - 1
    times: dict[str, list[float]] = {}
    for key, step in (("down", 1), ("pagedown", view), ("pageup", -view)):
        times[key] = []
        for _ in range(presses):
            target = clamp(table.cursor + step)
            times[key].append(await timed_press(probe, key, cursor_at(target)))
    times["G"], times["g"] = [], []
    for _ in range(max(3, presses // 4)):
        for key, target in (("G", table.total - 1), ("g", 0)):
            held = table.row_at(table.cursor)
            # Read again: the rows held are replaced by new objects once the fresh read lands.
            probe.expect(lambda: table.row_at(table.cursor) is not held and shows_rows(table))  # noqa: B023
            table.reload()
            await probe.met()
            times[key].append(await timed_press(probe, key, cursor_at(target)))
    return times


def repaint_line(metric: str, values: list[float], **extra) -> None:
    """One latency metric: the median, judged by its worst press (timeouts shown as null)."""
    worst = max(values)
    _common.emit(
        metric,
        finite(_common.median(values)),
        "ms",
        p90=finite(_common.percentile(values, 90)),
        max=finite(worst),
        timeouts=sum(v == float("inf") for v in values),
        target=f"<= {REPAINT_TARGET_MS:.0f} (every press)",
        meets_target=worst <= REPAINT_TARGET_MS,
        **extra,
    )


def finite(ms: float) -> float | None:
    """JSON has no infinity: a press that never showed its effect (see TIMEOUT) is null."""
    return ms if math.isfinite(ms) else None

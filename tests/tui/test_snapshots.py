"""Snapshot tests: each screen and the launch form, from fixed data, a fixed clock and size.

Guarded against flakiness: the clock is pinned (tui/conftest), no user config is read, no
agent runs, cursors don't blink, and the store lives at a fixed path (the run screen shows it).
Update with `pytest tests/tui/test_snapshots.py --snapshot-update` after a deliberate change,
and look at the new SVGs.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
from fixed_data import seed
from helpers_tui import screen_text, settle, show_file

from store import Store
from tui.app import LaunchbayApp
from tui.config import UserConfig

SIZE = (120, 36)


@pytest.fixture
def fixed_app(monkeypatch):
    # The help screen shows where the config file is: a fixed place, never read (no file).
    monkeypatch.setenv("LAUNCHBAY_CONFIG_DIR", "/nonexistent/launchbay-config")
    folder = Path(tempfile.gettempdir()) / "launchbay-snapshot-store"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    store = Store.open(folder / "launchbay.db")
    seed(store, folder)
    log = store.run_dir("h7wq4nzp") / "output.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(f"epoch {i}/10  loss={2.0 * 0.8**i:.4f}\n" for i in range(1, 11)))
    store.close()
    yield LaunchbayApp(
        folder / "launchbay.db", run_agent=False, offer_sample=False, config=UserConfig()
    )
    shutil.rmtree(folder, ignore_errors=True)


def _busy(app) -> bool:
    """Any worker still reading (the store watcher runs for the app's whole life)."""
    return any(not w.is_finished and w.group != "store-watch" for w in app.workers)


async def _ready(pilot, condition) -> None:
    # Raises if never ready: a snapshot of a screen still loading would fail confusingly, or
    # worse, be saved by --snapshot-update.
    await settle(pilot, lambda: condition() and not _busy(pilot.app), "the screen ready")
    for widget in pilot.app.screen.query("Input"):
        widget.cursor_blink = False
    await _painted(pilot)


async def _painted(pilot) -> None:
    """Wait until what was changed has been laid out and drawn: no animation left, and the
    message queues (the refresh included) run dry."""
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def _rows_loaded(app) -> bool:
    tables = app.screen.query("#runs-table")
    return bool(tables) and tables.first().row_at(0) is not None


def test_runs_screen(snap_compare, fixed_app):
    async def run_before(pilot):
        await _ready(pilot, lambda: _rows_loaded(pilot.app))

    assert snap_compare(fixed_app, terminal_size=SIZE, run_before=run_before)


def test_runs_screen_filtered(snap_compare, fixed_app):
    async def run_before(pilot):
        await _ready(pilot, lambda: _rows_loaded(pilot.app))
        await pilot.press("slash", *"state:finished")
        await _ready(pilot, lambda: pilot.app.screen.query_one("#runs-table").total == 2)

    assert snap_compare(fixed_app, terminal_size=SIZE, run_before=run_before)


def test_run_detail_screen(snap_compare, fixed_app):
    async def run_before(pilot):
        await _ready(pilot, lambda: _rows_loaded(pilot.app))
        pilot.app.screen.query_one("#runs-table").cursor = 2
        await pilot.press("enter")
        await _ready(pilot, lambda: getattr(pilot.app.screen, "run", None) is not None)

    assert snap_compare(fixed_app, terminal_size=SIZE, run_before=run_before)


def test_run_log_screen(snap_compare, fixed_app):
    async def run_before(pilot):
        from tui.screens.run_log import RunLogScreen

        await _ready(pilot, lambda: _rows_loaded(pilot.app))
        pilot.app.push_screen(RunLogScreen("h7wq4nzp"))
        # screen_text, not the raw SVG: there, spaces are &#160;
        await _ready(pilot, lambda: "epoch 10/10" in screen_text(pilot.app))

    assert snap_compare(fixed_app, terminal_size=SIZE, run_before=run_before)


def test_queues_screen(snap_compare, fixed_app):
    async def run_before(pilot):
        await pilot.press("2")
        await _ready(pilot, lambda: "gpu-box" in pilot.app.export_screenshot())

    assert snap_compare(fixed_app, terminal_size=SIZE, run_before=run_before)


def test_jobs_screen(snap_compare, fixed_app):
    async def run_before(pilot):
        await pilot.press("3")
        await _ready(pilot, lambda: "evaluate" in pilot.app.export_screenshot())

    assert snap_compare(fixed_app, terminal_size=SIZE, run_before=run_before)


def test_launch_form(snap_compare, fixed_app):
    async def run_before(pilot):
        from tui.screens.launch import LaunchScreen

        await _ready(pilot, lambda: _rows_loaded(pilot.app))
        pilot.app.push_screen(LaunchScreen(job="train", queue="gpu-box"))
        await _ready(
            pilot,
            lambda: (
                len(pilot.app.screen.query("SchemaField")) == 4
                and pilot.app.screen.form_error is None
            ),
        )
        field = pilot.app.screen.query_one("#field-run_config-epochs #value")
        field.value = "5000"  # out of range: the field is marked and says why
        await _ready(pilot, lambda: pilot.app.screen.form_error is not None)
        # Focus may have scrolled the form, depending on timing: show it from the top.
        form = pilot.app.screen.query_one("#launch-form")
        form.scroll_home(animate=False)
        await settle(pilot, lambda: form.scroll_y == 0, "the form shown from its top")
        await _painted(pilot)

    assert snap_compare(fixed_app, terminal_size=(130, 40), run_before=run_before)


def test_help_screen(snap_compare, fixed_app):
    async def run_before(pilot):
        await _ready(pilot, lambda: _rows_loaded(pilot.app))
        await pilot.press("question_mark")
        await _ready(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen")

    assert snap_compare(fixed_app, terminal_size=SIZE, run_before=run_before)


def test_run_charts_screen(snap_compare, fixed_app):
    async def run_before(pilot):
        from fixed_data import seed_metrics

        from tui.screens.run_charts import RunChartsScreen

        seed_metrics(pilot.app.stores.get())
        pilot.app.push_screen(RunChartsScreen("h7wq4nzp"))
        await _ready(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, RunChartsScreen)
                and len(pilot.app.screen.charts) == 3
                and all(chart.plotted for chart in pilot.app.screen.query("MetricChart"))
            ),
        )

    assert snap_compare(fixed_app, terminal_size=SIZE, run_before=run_before)


def test_run_compare_screen(snap_compare, fixed_app):
    async def run_before(pilot):
        from fixed_data import COMPARED, seed_comparison

        from tui.screens.run_compare import RunCompareScreen

        seed_comparison(pilot.app.stores.get())
        pilot.app.push_screen(RunCompareScreen(list(COMPARED)))
        await _ready(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, RunCompareScreen)
                and pilot.app.screen.comparison is not None
                and len(pilot.app.screen.query("MetricChart")) == 3
                and all(chart.plotted for chart in pilot.app.screen.query("MetricChart"))
            ),
        )

    assert snap_compare(fixed_app, terminal_size=SIZE, run_before=run_before)


def test_runs_screen_with_summary_columns_sorted(snap_compare, fixed_app):
    async def run_before(pilot):
        from fixed_data import seed_comparison

        from store.run_views import MetricColumn, RunOrder

        seed_comparison(pilot.app.stores.get())
        loss = MetricColumn("loss", "min")
        # What `m` (ticking two columns) and `o` (lowest first) leave.
        pilot.app.screen.show_columns((loss, MetricColumn("val/accuracy", "last")), RunOrder(loss))
        await _ready(pilot, lambda: _rows_loaded(pilot.app))
        await _ready(
            pilot, lambda: any("loss min" in c.title for c in pilot.app.screen.table.columns)
        )

    assert snap_compare(fixed_app, terminal_size=SIZE, run_before=run_before)


def test_run_files_screen(snap_compare, fixed_app):
    async def run_before(pilot):
        from fixed_data import seed_files

        from tui.screens.run_files import RunFilesScreen

        seed_files(pilot.app.stores.get())
        pilot.app.push_screen(RunFilesScreen("h7wq4nzp"))
        await _ready(pilot, lambda: getattr(pilot.app.screen, "shown", None) is not None)
        await show_file(pilot, "work/outputs/metrics.json")
        await _ready(pilot, lambda: '"val/accuracy"' in screen_text(pilot.app))

    assert snap_compare(fixed_app, terminal_size=SIZE, run_before=run_before)


def test_runs_screen_at_80_by_24(snap_compare, fixed_app):
    async def run_before(pilot):
        await _ready(pilot, lambda: _rows_loaded(pilot.app))

    assert snap_compare(fixed_app, terminal_size=(80, 24), run_before=run_before)


def test_launch_form_at_80_by_24(snap_compare, fixed_app):
    async def run_before(pilot):
        from tui.screens.launch import LaunchScreen

        await _ready(pilot, lambda: _rows_loaded(pilot.app))
        pilot.app.push_screen(LaunchScreen(job="train", queue="gpu-box"))
        await _ready(pilot, lambda: len(pilot.app.screen.query("SchemaField")) == 4)
        form = pilot.app.screen.query_one("#launch-form")
        form.scroll_home(animate=False)
        await settle(pilot, lambda: form.scroll_y == 0, "the form shown from its top")
        await _painted(pilot)

    assert snap_compare(fixed_app, terminal_size=(80, 24), run_before=run_before)

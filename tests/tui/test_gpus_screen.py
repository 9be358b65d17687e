"""The GPUs screen: each device with the run holding it, live; enter opens that run."""

from helpers_tui import settle
from kit import claimed_run
from textual.widgets import DataTable

from tui.screens.gpus import GpusScreen, bar, sparkline
from tui.screens.run_detail import RunDetailScreen

SIZE = (120, 36)


def _column(table: DataTable, name: str) -> list[str]:
    index = [str(c.label) for c in table.columns.values()].index(name)
    return [str(table.get_row_at(row)[index]) for row in range(table.row_count)]


def _hold_gpu_0(store, tmp_path) -> str:
    return claimed_run(store, tmp_path, "k3x9mf2a", gpus=[("GPU-0", 0)])


async def _gpus_table(app, pilot) -> DataTable:
    """Go to the GPUs screen (its number key) and return its table."""
    await pilot.press("4")
    await settle(pilot, lambda: isinstance(app.screen, GpusScreen), "the GPUs screen")
    return app.screen.query_one("#gpus-table", DataTable)


async def test_each_device_shows_the_run_holding_it_and_enter_opens_the_run(
    store, tmp_path, make_app, declare_gpus
):
    declare_gpus(2)
    run_id = _hold_gpu_0(store, tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await _gpus_table(app, pilot)
        await settle(pilot, lambda: table.row_count == 2, "two devices")
        assert _column(table, "gpu") == ["0", "1"]
        assert _column(table, "run") == [run_id, "-"]
        assert "81920 MiB" in _column(table, "memory")[0]
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen), "the run")
        assert app.screen.run_id == run_id


async def test_a_run_that_ends_frees_its_device_on_the_screen(
    store, tmp_path, make_app, declare_gpus
):
    from store import RunState

    declare_gpus(1)
    run_id = _hold_gpu_0(store, tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await _gpus_table(app, pilot)
        await settle(pilot, lambda: _column(table, "run") == [run_id], "held")
        store.runs.transition(run_id, RunState.FAILED, "exited with code 1", error_stage="run")
        await settle(pilot, lambda: _column(table, "run") == ["-"], "freed")


async def test_without_gpus_the_screen_says_why(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot, lambda: isinstance(app.screen, GpusScreen), "the GPUs screen")
        status = app.screen.query_one("#gpus-status")
        await settle(pilot, lambda: "no NVIDIA driver" in str(status.render()), "the reason")


def test_bars_and_history_draw_what_is_known():
    assert str(bar(0.5, width=4)) == "██░░"
    assert str(bar(None, width=3)) == "···"
    assert str(sparkline([0, 50, 100, None])).endswith("▁▄█ ")


async def test_the_run_detail_shows_its_gpus_as_last_sampled(
    store, tmp_path, make_app, declare_gpus
):
    from fixed_data import FIXED_NOW

    declare_gpus(1)
    run_id = _hold_gpu_0(store, tmp_path)
    store.gpus.record_samples([(run_id, "GPU-0", 87, 40123)], FIXED_NOW - 12)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.goto(f":r {run_id}")
        await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen), "the run")
        screen = app.screen

        def summary() -> str:
            found = screen.query("#run-summary")  # there once the screen is composed
            return str(found.first().render()) if found else ""

        await settle(pilot, lambda: "gpus" in summary(), "its facts")
        line = next(x for x in summary().splitlines() if x.startswith("gpus"))
        assert line.split(None, 1)[1] == "0 (87%, 40123 MiB, 12s ago)"

"""Summary columns on the Runs screen: chosen with `m`, sorted with `o`, remembered."""

from helpers_tui import settle
from kit import claimed_run

from store import Store
from store.metrics import Point
from store.run_views import MetricColumn, RunOrder
from tui.screens.metric_columns import MetricColumnsScreen
from tui.screens.run_columns import read_table_preferences

SIZE = (160, 30)
LOSSES = {"run-a": 0.5, "run-b": 0.2, "run-c": 0.9}


def _runs(store, tmp_path) -> None:
    for run_id, loss in LOSSES.items():
        claimed_run(store, tmp_path, run_id)
        store.metrics.append(run_id, [Point("val/loss", loss + s, step=s) for s in (2, 1, 0)])
        store.metrics.append(run_id, [Point("acc", 1 - loss, step=2)])
    claimed_run(store, tmp_path, "run-d")  # reports nothing


def _ids(table) -> list[str]:
    return [table.row_at(i).id for i in range(table.total)]


def _line(table, y: int) -> str:
    return "".join(segment.text for segment in table.render_line(y))


async def test_a_chosen_summary_column_shows_sorts_and_is_remembered(
    store, db_path, tmp_path, make_app
):
    _runs(store, tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#runs-table")
        await settle(pilot, lambda: table.total == 4 and table.row_at(3) is not None, "runs")
        await pilot.press("o")  # nothing to sort by yet: a hint, the order unchanged
        assert app.screen.order == RunOrder()
        await pilot.press("m")
        await settle(pilot, lambda: isinstance(app.screen, MetricColumnsScreen), "the picker")
        picker = app.screen
        options = picker.query_one("SelectionList")
        await settle(pilot, lambda: options.option_count == 6, "acc and val/loss, 3 stats each")
        await pilot.press(*["down"] * 5, "space")  # from none highlighted: val/loss min
        assert picker.chosen == [MetricColumn("val/loss", "min")]
        await pilot.press("ctrl+s")
        runs = app.screen
        await settle(pilot, lambda: runs is not picker and "val/loss min" in _line(table, 0), "col")
        await settle(pilot, lambda: table.row_at(3) is not None, "rows again")
        cells = {table.row_at(i).id: _line(table, i + 1) for i in range(4)}
        assert "0.2" in cells["run-b"] and cells["run-d"].rstrip().endswith("-")
        await pilot.press("o")  # lowest first, the run without a value last
        await settle(pilot, lambda: _ids(table) == ["run-b", "run-a", "run-c", "run-d"], "↑")
        assert "val/loss min ↑" in _line(table, 0)
        await pilot.press("o")  # highest first
        await settle(pilot, lambda: _ids(table) == ["run-c", "run-a", "run-b", "run-d"], "↓")
        await settle(
            pilot,
            lambda: read_table_preferences(Store.open(db_path))[1].descending,
            "the choice saved",
        )
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        table = again.screen.query_one("#runs-table")
        await settle(pilot, lambda: table.total == 4 and table.row_at(3) is not None, "runs")
        assert _ids(table) == ["run-c", "run-a", "run-b", "run-d"]
        assert "val/loss min ↓" in _line(table, 0)


async def test_escape_leaves_the_columns_as_they_were(store, tmp_path, make_app):
    _runs(store, tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        runs = app.screen
        await pilot.press("m")
        await settle(pilot, lambda: isinstance(app.screen, MetricColumnsScreen), "the picker")
        options = app.screen.query_one("SelectionList")
        await settle(pilot, lambda: options.option_count == 6, "names")
        await pilot.press("space", "escape")
        await settle(pilot, lambda: app.screen is runs, "back")
        assert runs.metric_columns == ()


async def test_typing_narrows_the_metric_names(store, tmp_path, make_app):
    _runs(store, tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await settle(pilot, lambda: isinstance(app.screen, MetricColumnsScreen), "the picker")
        picker = app.screen
        options = picker.query_one("SelectionList")
        picker.query_one("#columns-filter").focus()
        await pilot.press("l", "o", "s")
        await settle(pilot, lambda: options.option_count == 3, "val/loss only")
        assert {options.get_option_at_index(i).value.key for i in range(3)} == {"val/loss"}

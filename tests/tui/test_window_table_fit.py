"""Columns fit the terminal: at 80 columns the runs table still shows STATE and DURATION."""

from fixed_data import seed
from helpers_tui import settle
from kit import run_launchbay

from tui.screens.runs import RUN_COLUMNS
from tui.widgets.table_columns import Column, fit_columns


def _titles(fitted) -> list[str]:
    return [column.title for column, _ in fitted]


def test_narrow_tables_shrink_then_drop_the_most_droppable_columns_first():
    wide = fit_columns(RUN_COLUMNS, 200)
    assert _titles(wide) == [c.title for c in RUN_COLUMNS]
    assert dict((c.title, w) for c, w in wide)["reason"] > 30  # the room left over
    at_120 = fit_columns(RUN_COLUMNS, 120)
    assert "reason" not in _titles(at_120)
    assert all(w == c.width for c, w in at_120)  # nothing else squeezed for it
    at_80 = fit_columns(RUN_COLUMNS, 80)
    assert {"state", "duration"} <= set(_titles(at_80))
    assert sum(w + 2 for _, w in at_80) <= 80
    assert "gpus" not in _titles(at_80) and "exit" not in _titles(at_80)


def test_columns_that_never_drop_are_kept_even_when_they_do_not_fit():
    columns = [Column("a", 50, str), Column("b", 50, str)]
    assert fit_columns(columns, 40) == [(columns[0], 50), (columns[1], 50)]


async def test_at_80_by_24_the_runs_table_shows_state_and_duration(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#runs-table")
        await settle(pilot, lambda: table.row_at(0) is not None, "rows")
        header = "".join(segment.text for segment in table.render_line(0))
        assert "STATE" in header and "DURATION" in header
        assert table.virtual_size.width <= table.size.width  # no sideways scrolling needed


def test_runs_list_says_why_a_run_failed(store, db_path, tmp_path):
    seed(store, tmp_path)
    listed = run_launchbay("runs", "list", db=db_path)
    assert listed.code == 0, listed.err
    failed = next(line for line in listed.out.splitlines() if line.startswith("c2vb8rte"))
    assert failed.rstrip().endswith("run: exited with code 3")

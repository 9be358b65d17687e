"""The runs table's windows with summary columns, sorted by one: every run once, in order,
whichever way the table pages (jumps, then keyset after and before a row)."""

import math

import pytest
from kit import claimed_run

from store.metrics import Point
from store.run_views import MetricColumn, RunFilter, RunOrder, RunWindows

LOSS_MIN = MetricColumn("val/loss", "min")
ACC_LAST = MetricColumn("acc", "last")


@pytest.fixture
def runs(store, tmp_path):
    """Twelve runs: eight report val/loss (two of them tie, one only NaN), the rest nothing."""
    values = {"r00": 0.5, "r01": 0.2, "r02": 0.9, "r03": 0.2, "r05": 0.7, "r07": 0.1, "r08": 0.3}
    for i in range(12):
        run_id = claimed_run(store, tmp_path, f"r{i:02d}")
        if run_id in values:
            store.metrics.append(run_id, [Point("val/loss", values[run_id] + 1, 0)])
            store.metrics.append(run_id, [Point("val/loss", values[run_id], 1)])
            store.metrics.append(run_id, [Point("acc", 1 - values[run_id], 1)])
        if run_id == "r10":
            store.metrics.append(run_id, [Point("val/loss", math.nan, 0)])
    return values


def _newest_first(store, ids):
    created = {r.id: r.created_at for r in store.runs.list()}
    return sorted(ids, key=lambda i: (created[i], i), reverse=True)


def _walk_forward(windows, page):
    rows = windows.at(RunFilter(), 0, page)
    while True:
        more = windows.after(RunFilter(), rows[-1], page)
        if not more:
            return rows
        rows += more


def _walk_backward(windows, total, page):
    rows = windows.at(RunFilter(), total - page, page)
    while True:
        more = windows.before(RunFilter(), rows[0], page)
        if not more:
            return rows
        rows = more + rows


def _expected(store, values, descending):
    valued = sorted(
        values,
        key=lambda i: (
            values[i],
            store.conn.execute(
                "SELECT id FROM metric_keys WHERE run_id = ? AND key = 'val/loss'", (i,)
            ).fetchone()[0],
        ),
        reverse=descending,
    )
    others = [f"r{i:02d}" for i in range(12) if f"r{i:02d}" not in values]
    return valued + _newest_first(store, others)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("page", [1, 3, 5, 50])
def test_sorted_by_a_summary_every_run_comes_once_in_order_forward_and_back(
    store, runs, descending, page
):
    windows = RunWindows(store.conn, RunOrder(LOSS_MIN, descending), (LOSS_MIN,))
    expected = _expected(store, runs, descending)
    assert windows.count(RunFilter()) == 12
    assert [r.id for r in _walk_forward(windows, page)] == expected
    assert [r.id for r in _walk_backward(windows, 12, min(page, 12))] == expected
    # A jump lands where the walk does, across the end of the valued runs too.
    for offset in range(12):
        window = expected[offset : offset + 2]
        assert [r.id for r in windows.at(RunFilter(), offset, 2)] == window
        # With the total known, a jump past the middle reads from the end (as G does).
        assert [r.id for r in windows.at(RunFilter(), offset, 2, total=12)] == window


def test_rows_carry_their_summary_values_and_nothing_for_a_run_without(store, runs):
    windows = RunWindows(store.conn, RunOrder(), (LOSS_MIN, ACC_LAST))
    rows = {r.id: r for r in windows.at(RunFilter(), 0, 20)}
    assert rows["r07"].metrics == {LOSS_MIN: 0.1, ACC_LAST: pytest.approx(0.9)}
    assert rows["r04"].metrics == {}
    assert math.isnan(rows["r10"].metrics[LOSS_MIN])  # only NaN: shown as such, sorted last
    assert rows["r07"].state == store.runs.get("r07").state  # still a run in every other way


def test_a_filter_applies_to_the_sorted_order(store, runs):
    store.conn.execute("UPDATE runs SET message = 'keep' WHERE id IN ('r02', 'r07', 'r04')")
    windows = RunWindows(store.conn, RunOrder(LOSS_MIN, descending=True), (LOSS_MIN,))
    kept = RunFilter(text="keep")
    assert [r.id for r in windows.at(kept, 0, 10)] == ["r02", "r07", "r04"]
    assert windows.count(kept) == 3
    assert [r.id for r in windows.at(kept, 2, 5, total=3)] == ["r04"]
    assert [r.id for r in windows.before(kept, store.runs.get("r04"), 5)] == ["r02", "r07"]


def test_a_summary_column_names_one_of_the_stored_summaries():
    with pytest.raises(ValueError, match="last, min, max"):
        MetricColumn("loss", "mean; DROP TABLE runs")


def test_a_remembered_count_is_read_again_once_another_connection_writes(store, runs, db_path):
    from store import Store

    memo: dict = {}
    windows = RunWindows(store.conn, RunOrder(LOSS_MIN), (LOSS_MIN,), memo)
    last = windows.at(RunFilter(), 11, 1, total=12)
    assert [r.id for r in last] == [_expected(store, runs, False)[-1]] and memo
    writer = Store.open(db_path)  # as the agent: its own connection
    for run_id, loss in (("r04", 0.01), ("r06", 0.02), ("r09", 0.03)):
        writer.metrics.append(run_id, [Point("val/loss", loss, 0)])
    now = _expected(store, {**runs, "r04": 0.01, "r06": 0.02, "r09": 0.03}, False)
    assert windows.at(RunFilter(), 0, 1, total=12)[0].id == "r04"
    # From the end: the valued runs now end two rows from the last (a stale count of them
    # would put the highest value at row 7).
    assert [r.id for r in windows.at(RunFilter(), 7, 1, total=12)] == [now[7]] == ["r00"]

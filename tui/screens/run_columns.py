"""The Runs screen's summary columns (`m`) and sort (`o`): their table columns, the order
they cycle through, and how the store remembers them."""

from __future__ import annotations

from store.run_views import MetricColumn, RunOrder

from ..widgets.table_columns import Column

COLUMNS_PREFERENCE = "runs.metric_columns"  # the summary columns chosen with `m`
ORDER_PREFERENCE = "runs.order"  # and the sort chosen with `o`


def metric_column(column: MetricColumn, order: RunOrder) -> Column:
    """The table column of a metric's summary; its title shows the sort's direction."""
    arrow = ""
    if order.column == column:
        arrow = " ↓" if order.descending else " ↑"
    title = column.label + arrow
    return Column(
        title,
        min(max(len(title), 8), 18),
        lambda r: format_value(r.metrics.get(column)),
        keep_case=True,
    )


def format_value(value: float | None) -> str:
    """A summary in a cell: four significant digits; "-" for a run without the metric."""
    if value is None:
        return "-"
    if value != value:
        return "NaN"
    return f"{value:.4g}"


def read_table_preferences(store) -> tuple[tuple[MetricColumn, ...], RunOrder]:
    """The summary columns and sort remembered in the store (what no longer parses is
    dropped: a preference never stops the Runs screen)."""
    columns = []
    for saved in store.preferences.get(COLUMNS_PREFERENCE, []) or []:
        try:
            columns.append(MetricColumn(saved["key"], saved["stat"]))
        except (TypeError, KeyError, ValueError):
            continue
    order = RunOrder()
    saved = store.preferences.get(ORDER_PREFERENCE) or {}
    with_column = [c for c in columns if isinstance(saved, dict) and c.label == saved.get("by")]
    if with_column:
        order = RunOrder(with_column[0], bool(saved.get("descending")))
    return tuple(columns), order


def save_table_preferences(store, columns: tuple[MetricColumn, ...], order: RunOrder) -> None:
    store.preferences.put(COLUMNS_PREFERENCE, [{"key": c.key, "stat": c.stat} for c in columns])
    by = order.column.label if order.column else None
    store.preferences.put(ORDER_PREFERENCE, {"by": by, "descending": order.descending})


def next_order(order: RunOrder, columns: tuple[MetricColumn, ...]) -> RunOrder:
    """`o` cycles: newest first → each summary column lowest first, then highest first."""
    steps = [RunOrder()] + [RunOrder(c, d) for c in columns for d in (False, True)]
    try:
        return steps[(steps.index(order) + 1) % len(steps)]
    except ValueError:  # its column was taken away
        return RunOrder()

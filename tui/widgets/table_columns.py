"""A table's columns: what each shows, and which of them show, how wide, in the width a
terminal gives the table (WindowTable draws them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Row = TypeVar("Row")


@dataclass(frozen=True)
class Column(Generic[Row]):
    title: str
    width: int
    cell: Callable[[Row], str]
    style: Callable[[Row], str] | None = None  # a Rich style for the cell, from the row
    keep_case: bool = False  # a title that is data (a metric's name), not shown upper-cased
    min_width: int | None = None  # narrower than `width` when the table is short of room
    drop: int = 0  # short of room even so: columns with the highest `drop` go first; 0 stays
    grow: bool = False  # takes the room left over (if droppable: only once the rest are whole)


def fit_columns(columns: Sequence[Column], width: int) -> list[tuple[Column, int]]:
    """Each column shown and its width, for a table `width` cells wide: columns shrink to
    their `min_width`, then the most droppable go, until the rest fit; room left over goes
    back to the shrunk columns, in order, then to a growing one. (Only if the columns that
    never drop don't fit is the table wider than its widget, and scrolls.)"""
    kept = list(columns)

    def least(cols) -> int:
        return sum((c.min_width or c.width) + 2 for c in cols)

    while least(kept) > width and any(c.drop for c in kept):
        kept.remove(max((c for c in kept if c.drop), key=lambda c: c.drop))
    for column in [c for c in kept if c.grow and c.drop]:
        # A growing column is extra: shown only where the others get their full widths.
        others = sum(c.width + 2 for c in kept if c is not column)
        if others + least([column]) > width:
            kept.remove(column)
    widths = {id(c): c.min_width or c.width for c in kept}
    spare = width - least(kept)
    for column in kept:
        grown = min(max(0, spare), column.width - widths[id(column)])
        widths[id(column)] += grown
        spare -= grown
    for column in kept:
        if column.grow and spare > 0:
            widths[id(column)] += spare
            spare = 0
    return [(c, widths[id(c)]) for c in kept]

"""Windows onto the runs table for screens that can't load it all (a million rows).

Rows come newest first, ordered by (created_at, id) descending, or sorted by a metric's
summary (`val/loss min`): first the runs that have a value, by value, then those without, newest
first. A window is read by keyset — the rows after or before a row already shown — so scrolling
costs the same anywhere; only a jump to an arbitrary position uses OFFSET. Rows carry the values
of the summary columns asked for, read for the rows in the window only.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field

from .records import Run
from .runs import _RUN_COLUMNS, _RUN_FROM, _run_from_row

RunKey = tuple[float, str]  # (created_at, id)
STATS = ("last", "min", "max")  # a metric's summaries a column can show (metric_keys' columns)


@dataclass(frozen=True)
class MetricColumn:
    """One summary of one metric, e.g. `val/loss min`."""

    key: str
    stat: str

    def __post_init__(self) -> None:
        if self.stat not in STATS:  # the stat names a column in SQL: only these
            raise ValueError(f"a summary is one of {', '.join(STATS)}, not {self.stat!r}")

    @property
    def label(self) -> str:
        return f"{self.key} {self.stat}"


@dataclass(frozen=True)
class RunOrder:
    """Newest first (no column), or by a summary column, lowest first unless `descending`."""

    column: MetricColumn | None = None
    descending: bool = False


@dataclass(frozen=True)
class RunRow(Run):
    """A run and the values of the summary columns shown (NaN: every value was NaN; absent:
    the run has no such metric)."""

    metrics: dict[MetricColumn, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class RunFilter:
    """What the runs table shows: all runs, or those matching every given part."""

    states: tuple[str, ...] = ()
    queue: str | None = None
    job: str | None = None  # a job name: all of its versions
    tags: tuple[str, ...] = ()  # runs with every one of these tags
    text: str | None = None  # run id prefix, or part of job:version, queue or message

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
        if self.states:
            clauses.append(f"r.state IN ({','.join('?' * len(self.states))})")
            params.extend(self.states)
        if self.queue:
            clauses.append("q.name = ?")
            params.append(self.queue)
        if self.job:
            clauses.append("r.job_ref LIKE ? ESCAPE '\\'")
            params.append(_like_escape(self.job) + ":%")
        for tag in self.tags:
            clauses.append("EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag = ?)")
            params.append(tag)
        if self.text:
            pattern = "%" + _like_escape(self.text) + "%"
            clauses.append(
                "(r.id LIKE ? ESCAPE '\\' OR r.job_ref LIKE ? ESCAPE '\\'"
                " OR q.name LIKE ? ESCAPE '\\' OR r.message LIKE ? ESCAPE '\\')"
            )
            params.extend([_like_escape(self.text) + "%", pattern, pattern, pattern])
        return (" AND ".join(clauses) or "1"), params


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class RunWindows:
    """Counting and paging runs under a filter, in an order, with summary columns. One per
    thread, like the store."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        order: RunOrder = RunOrder(),
        columns: tuple[MetricColumn, ...] = (),
        memo: dict | None = None,
    ):
        """`memo`: a dict the caller keeps between windows of the same order, where costly
        counts are remembered until the store changes."""
        self._conn = conn
        self._order = order
        self._columns = columns
        self._memo = {} if memo is None else memo

    def _matches_nothing(self, run_filter: RunFilter) -> bool:
        """A job or queue that doesn't exist: answer at once instead of scanning every run
        (typing `job:tra…` asks for `tra`, `trai`, … on the way to `train`)."""
        for tag in run_filter.tags:
            if not self._conn.execute(
                "SELECT 1 FROM run_tags WHERE tag = ? LIMIT 1", (tag,)
            ).fetchone():
                return True
        if (
            run_filter.job
            and not self._conn.execute(
                "SELECT 1 FROM jobs WHERE name = ?", (run_filter.job,)
            ).fetchone()
        ):
            return True
        return (
            bool(run_filter.queue)
            and not self._conn.execute(
                "SELECT 1 FROM queues WHERE name = ?", (run_filter.queue,)
            ).fetchone()
        )

    def count(self, run_filter: RunFilter) -> int:
        if self._matches_nothing(run_filter):
            return 0
        where, params = run_filter.where()
        return self._conn.execute(
            f"SELECT COUNT(*) FROM {_RUN_FROM} WHERE {where}", params
        ).fetchone()[0]

    def at(
        self, run_filter: RunFilter, offset: int, limit: int, total: int | None = None
    ) -> list[RunRow]:
        """Rows offset … offset+limit-1 in order. A jump costs O(offset), so with the `total`
        known, a jump into the older half of the newest-first order reads from the oldest end
        instead."""
        if self._matches_nothing(run_filter):
            return []
        if self._order.column is not None:
            return self._with_metrics(self._sorted_at(run_filter, offset, limit, total))
        where, params = run_filter.where()
        if total is not None and offset > total // 2:
            from_end = max(0, total - offset - limit)
            limit = min(limit, total - offset)
            if limit <= 0:
                return []
            rows = self._select(where, params, _NEWEST_LAST, _limit(limit, from_end))
            rows.reverse()
            return self._with_metrics(rows)
        return self._with_metrics(self._select(where, params, _NEWEST_FIRST, _limit(limit, offset)))

    def after(self, run_filter: RunFilter, row: Run, limit: int) -> list[RunRow]:
        """The `limit` rows that come after `row`, in order."""
        if self._order.column is not None:
            return self._with_metrics(self._sorted_after(run_filter, row, limit))
        return self._with_metrics(self._unvalued_after(run_filter, row, limit, "1"))

    def before(self, run_filter: RunFilter, row: Run, limit: int) -> list[RunRow]:
        """The `limit` rows that come before `row`, in order."""
        if self._order.column is not None:
            return self._with_metrics(self._sorted_before(run_filter, row, limit))
        return self._with_metrics(self._unvalued_before(run_filter, row, limit, "1"))

    # -- sorted by a summary: the runs with a value, then the runs without ------------------

    def _valued(self, run_filter: RunFilter) -> tuple[str, str, list]:
        """FROM, WHERE and parameters of the runs that have a value of the sort column."""
        column = self._order.column
        where, params = run_filter.where()
        return (
            "metric_keys mk JOIN runs r ON r.id = mk.run_id JOIN queues q ON q.id = r.queue_id",
            f"mk.key = ? AND mk.{column.stat} IS NOT NULL AND {where}",
            [column.key, *params],
        )

    def _no_value(self) -> tuple[str, list]:
        column = self._order.column
        return (
            "NOT EXISTS (SELECT 1 FROM metric_keys mk WHERE mk.run_id = r.id AND mk.key = ?"
            f" AND mk.{column.stat} IS NOT NULL)",
            [column.key],
        )

    def _valued_order(self, reverse: bool = False) -> str:
        direction = "DESC" if self._order.descending != reverse else "ASC"
        return f"mk.{self._order.column.stat} {direction}, mk.id {direction}"

    def _valued_count(self, run_filter: RunFilter) -> int:
        """How many runs have a value of the sort column (under the filter). Remembered until
        another connection writes: a jump to the end needs it, and it reads the whole index."""
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        memo_key = (id(self._conn), version, run_filter, self._order)
        if memo_key not in self._memo:
            self._memo.clear()
            self._memo[memo_key] = self._count_valued(run_filter)
        return self._memo[memo_key]

    def _count_valued(self, run_filter: RunFilter) -> int:
        column = self._order.column
        if run_filter == RunFilter():
            # No filter: the index alone answers (a metric row's run always exists: runs are
            # never deleted), without a lookup of each run.
            return self._conn.execute(
                f"SELECT COUNT(*) FROM metric_keys WHERE key = ? AND {column.stat} IS NOT NULL",
                (column.key,),
            ).fetchone()[0]
        tables, where, params = self._valued(run_filter)
        return self._conn.execute(
            f"SELECT COUNT(*) FROM {tables} WHERE {where}", params
        ).fetchone()[0]

    def _sorted_at(
        self, run_filter: RunFilter, offset: int, limit: int, total: int | None
    ) -> list[Run]:
        tables, where, params = self._valued(run_filter)
        valued = self._valued_count(run_filter) if total is not None else None
        if valued is not None and offset > total // 2:
            return self._sorted_from_end(run_filter, total - offset - limit, limit, total - valued)
        rows = []
        if valued is None or offset < valued:
            rows = self._select_from(
                tables, where, params, self._valued_order(), _limit(limit, offset)
            )
        if len(rows) == limit or (valued is not None and valued == total):
            return rows
        # Past the valued runs: the rest of the window is the start of the runs without.
        if valued is None:
            valued = self._valued_count(run_filter)
        skip = max(0, offset - valued)
        no_value, more = self._no_value()
        where, params = run_filter.where()
        return rows + self._select(
            f"{where} AND {no_value}",
            [*params, *more],
            _NEWEST_FIRST,
            _limit(limit - len(rows), skip),
        )

    def _sorted_from_end(
        self, run_filter: RunFilter, from_end: int, limit: int, without: int
    ) -> list[Run]:
        """The window that ends `from_end` rows before the last: read backwards from the end,
        through the runs without a value (there are `without` of them), then the valued."""
        if from_end < 0:
            limit, from_end = limit + from_end, 0
        rows = []
        if from_end < without:
            no_value, more = self._no_value()
            where, params = run_filter.where()
            rows = self._select(
                f"{where} AND {no_value}", [*params, *more], _NEWEST_LAST, _limit(limit, from_end)
            )
        if len(rows) < limit:
            tables, where, params = self._valued(run_filter)
            rows += self._select_from(
                tables,
                where,
                params,
                self._valued_order(reverse=True),
                _limit(limit - len(rows), max(0, from_end - without)),
            )
        rows.reverse()
        return rows

    def _any_without(self, run_filter: RunFilter) -> bool:
        """Whether a run lacks a value. Counted, not searched: a search for the one run without
        among a million with would read them all."""
        return self._valued_count(run_filter) < self.count(run_filter)

    def _sort_key(self, row: Run) -> tuple[float, int] | None:
        """(value, metric row id) of `row` in the sort column; None: a run without a value."""
        column = self._order.column
        found = self._conn.execute(
            f"SELECT {column.stat}, id FROM metric_keys WHERE run_id = ? AND key = ?",
            (row.id, column.key),
        ).fetchone()
        return None if found is None or found[0] is None else found

    def _sorted_after(self, run_filter: RunFilter, row: Run, limit: int) -> list[Run]:
        key = self._sort_key(row)
        no_value, more = self._no_value()
        if key is None:
            return self._unvalued_after(run_filter, row, limit, no_value, more)
        tables, where, params = self._valued(run_filter)
        past = ">" if not self._order.descending else "<"
        rows = self._select_from(
            tables,
            f"{where} AND (mk.{self._order.column.stat}, mk.id) {past} (?, ?)",
            [*params, *key],
            self._valued_order(),
            _limit(limit),
        )
        if len(rows) < limit and self._any_without(run_filter):
            # The valued runs end here: go on with the runs without.
            where, params = run_filter.where()
            rows += self._select(
                f"{where} AND {no_value}",
                [*params, *more],
                _NEWEST_FIRST,
                _limit(limit - len(rows)),
            )
        return rows

    def _sorted_before(self, run_filter: RunFilter, row: Run, limit: int) -> list[Run]:
        key = self._sort_key(row)
        tables, where, params = self._valued(run_filter)
        if key is None:
            no_value, more = self._no_value()
            rows = self._unvalued_before(run_filter, row, limit, no_value, more)
            condition, key_params = where, params
        else:
            rows = []
            ahead = "<" if not self._order.descending else ">"
            condition = f"{where} AND (mk.{self._order.column.stat}, mk.id) {ahead} (?, ?)"
            key_params = [*params, *key]
        if len(rows) < limit:  # the last valued runs come just before
            valued = self._select_from(
                tables,
                condition,
                key_params,
                self._valued_order(reverse=True),
                _limit(limit - len(rows)),
            )
            valued.reverse()
            rows = valued + rows
        return rows

    # -- newest first (all runs, or those without a value of the sort column) --------------

    def _unvalued_after(
        self, run_filter: RunFilter, row: Run, limit: int, extra: str, more: list = ()
    ) -> list[Run]:
        where, params = run_filter.where()
        return self._select(
            f"{where} AND {extra} AND (r.created_at, r.id) < (?, ?)",
            [*params, *more, row.created_at, row.id],
            _NEWEST_FIRST,
            _limit(limit),
        )

    def _unvalued_before(
        self, run_filter: RunFilter, row: Run, limit: int, extra: str, more: list = ()
    ) -> list[Run]:
        where, params = run_filter.where()
        rows = self._select(
            f"{where} AND {extra} AND (r.created_at, r.id) > (?, ?)",
            [*params, *more, row.created_at, row.id],
            _NEWEST_LAST,
            _limit(limit),
        )
        rows.reverse()
        return rows

    def _select(self, where: str, params: list, order: str, limit: str) -> list[Run]:
        return self._select_from(_RUN_FROM, where, params, order, limit)

    def _select_from(self, tables: str, where: str, params: list, order: str, limit: str):
        rows = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM {tables} WHERE {where} ORDER BY {order} {limit}",
            params,
        ).fetchall()
        return [_run_from_row(row) for row in rows]

    def _with_metrics(self, runs: list[Run]) -> list[RunRow]:
        """The runs with the values of the summary columns: one indexed read per run."""
        values: dict[str, dict[MetricColumn, float]] = {}
        if self._columns and runs:
            keys = sorted({c.key for c in self._columns})
            ids = [run.id for run in runs]
            found = self._conn.execute(
                "SELECT run_id, key, last, min, max, count FROM metric_keys"
                f" WHERE run_id IN ({','.join('?' * len(ids))})"
                f" AND key IN ({','.join('?' * len(keys))})",
                [*ids, *keys],
            )
            for run_id, key, last, low, high, count in found:
                stats = {"last": last, "min": low, "max": high}
                for column in self._columns:
                    if column.key == key and count:
                        value = stats[column.stat]
                        values.setdefault(run_id, {})[column] = math.nan if value is None else value
        return [RunRow(**vars(run), metrics=values.get(run.id, {})) for run in runs]


_NEWEST_FIRST = "r.created_at DESC, r.id DESC"
_NEWEST_LAST = "r.created_at ASC, r.id ASC"


def _limit(limit: int, offset: int = 0) -> str:
    return f"LIMIT {int(limit)} OFFSET {int(offset)}"

"""Windows onto the runs table for screens that can't load it all (a million rows).

Rows come newest first, ordered by (created_at, id) descending. A window is read by keyset —
the rows after or before a row already shown — so scrolling costs the same anywhere; only a
jump to an arbitrary position uses OFFSET.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from .records import Run
from .runs import _RUN_COLUMNS, _RUN_FROM, _run_from_row

RunKey = tuple[float, str]  # (created_at, id)


@dataclass(frozen=True)
class RunFilter:
    """What the runs table shows: all runs, or those matching every given part."""

    states: tuple[str, ...] = ()
    queue: str | None = None
    job: str | None = None  # a job name: all of its versions
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
    """Counting and paging runs under a filter. One per thread, like the store."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def _matches_nothing(self, run_filter: RunFilter) -> bool:
        """A job or queue that doesn't exist: answer at once instead of scanning every run
        (typing `job:tra…` asks for `tra`, `trai`, … on the way to `train`)."""
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
    ) -> list[Run]:
        """Rows offset … offset+limit-1, newest first. A jump costs O(offset), so with the
        `total` known, a jump into the older half reads from the oldest end instead."""
        if self._matches_nothing(run_filter):
            return []
        where, params = run_filter.where()
        if total is not None and offset > total // 2:
            from_end = max(0, total - offset - limit)
            limit = min(limit, total - offset)
            if limit <= 0:
                return []
            rows = self._select(
                where,
                params,
                "r.created_at ASC, r.id ASC",
                f"LIMIT {int(limit)} OFFSET {int(from_end)}",
            )
            rows.reverse()
            return rows
        return self._select(
            where,
            params,
            "r.created_at DESC, r.id DESC",
            f"LIMIT {int(limit)} OFFSET {int(offset)}",
        )

    def after(self, run_filter: RunFilter, key: RunKey, limit: int) -> list[Run]:
        """The `limit` rows that come after `key` (older), in order."""
        where, params = run_filter.where()
        return self._select(
            f"{where} AND (r.created_at, r.id) < (?, ?)",
            [*params, *key],
            "r.created_at DESC, r.id DESC",
            f"LIMIT {int(limit)}",
        )

    def before(self, run_filter: RunFilter, key: RunKey, limit: int) -> list[Run]:
        """The `limit` rows that come before `key` (newer), in order."""
        where, params = run_filter.where()
        rows = self._select(
            f"{where} AND (r.created_at, r.id) > (?, ?)",
            [*params, *key],
            "r.created_at ASC, r.id ASC",
            f"LIMIT {int(limit)}",
        )
        rows.reverse()
        return rows

    def _select(self, where: str, params: list, order: str, limit: str) -> list[Run]:
        rows = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM {_RUN_FROM} WHERE {where} ORDER BY {order} {limit}",
            params,
        ).fetchall()
        return [_run_from_row(row) for row in rows]

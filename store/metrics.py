"""Metrics: the points runs report, a summary per (run, metric), and where each source was
read up to.

Sizes it is built for: a million points of one metric (read back as a window, or reduced to a
chart's width in SQL), and summary columns over a million runs (one row per run and metric,
kept up to date on ingest). NaN is stored as NULL (SQLite turns a NaN into NULL anyway; no
value is NULL otherwise, since a non-numeric value is no metric) and read back as NaN; ±inf
are stored as they are.
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass

MAX_KEYS_PER_RUN = 1000  # points of further keys are dropped and counted on the run
BLOCK_STEPS = 256  # metric_blocks: a metric's min/max/count per this many steps
_MAX_STEP, _MIN_STEP = (1 << 63) - 1, -(1 << 63)
_CHUNK = 500  # ids per `IN (…)`: well under SQLite's variable limit


@dataclass(frozen=True)
class Point:
    """One value of one metric. `value` may be NaN or ±inf (kept as such); a non-numeric value
    is no metric and never becomes a Point."""

    key: str
    value: float
    step: int | None = None  # the job's own step, if it gave one
    at: float | None = None  # when, in seconds since the epoch, if known


@dataclass(frozen=True)
class Summary:
    """One metric of one run, as of its last point: `last` and `min`/`max` (NaN ignored; NaN
    when every value was NaN)."""

    count: int
    last: float
    last_step: int | None
    min: float
    max: float

    def to_json(self) -> dict:
        return {
            "count": self.count,
            "last": json_number(self.last),
            "last_step": self.last_step,
            "min": json_number(self.min),
            "max": json_number(self.max),
        }


@dataclass(frozen=True)
class Bucket:
    """A span of steps of one metric reduced to one chart column: its first step, and the
    lowest and highest value in it (NaN ignored; NaN when all were)."""

    step: int
    min: float
    max: float
    count: int


def json_number(value: float) -> float | str:
    """JSON has no NaN or infinity: they become the strings "NaN", "Infinity", "-Infinity"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _nan_if_null(value: float | None) -> float:
    return math.nan if value is None else value


class _KeyState:
    """A key's summary while an append runs, written back once at its end."""

    __slots__ = ("id", "count", "last", "last_step", "last_at", "low", "high", "touched")

    def __init__(self, key_id, count, last, last_step, last_at, low, high):
        self.id, self.count, self.last, self.last_step = key_id, count, last, last_step
        self.last_at, self.low, self.high, self.touched = last_at, low, high, False


class MetricStore:
    def __init__(self, conn: sqlite3.Connection, transaction):
        self._conn = conn
        self._transaction = transaction

    # -- writing ---------------------------------------------------------------------------

    def append(
        self,
        run_id: str,
        points: list[Point],
        *,
        source: str | None = None,
        cursor: str | None = None,
        malformed: int = 0,
    ) -> int:
        """Store `points` of run `run_id` and, in the same transaction, the summaries, the
        source's new `cursor` and its `malformed` count: after a crash either all of it is
        there or none, so a source read on from its stored cursor stores each point once.
        A point without a step gets its key's last step + 1 (0 for the first). Points of keys
        past MAX_KEYS_PER_RUN are dropped and counted on the run. Returns the points stored."""
        now = time.time()
        with self._transaction():
            keys = self._key_states(run_id)
            rows, dropped, blocks = [], 0, {}
            for point in points:
                state = keys.get(point.key)
                if state is None:
                    if len(keys) >= MAX_KEYS_PER_RUN:
                        dropped += 1
                        continue
                    state = keys[point.key] = self._new_key(run_id, point.key)
                row = _advance(state, point, now)
                rows.append(row)
                _add_to_block(blocks, row)
            self._conn.executemany(
                "INSERT INTO metric_points (key_id, step, seq, at, value) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            self._conn.executemany(_BLOCK_UPSERT, [(*k, *v) for k, v in blocks.items()])
            self._conn.executemany(
                "UPDATE metric_keys SET count = ?, last = ?, last_step = ?, last_at = ?,"
                " min = ?, max = ? WHERE id = ?",
                [
                    (s.count, s.last, s.last_step, s.last_at, s.low, s.high, s.id)
                    for s in keys.values()
                    if s.touched
                ],
            )
            if source is not None:
                self._conn.execute(
                    "INSERT INTO metric_cursors (run_id, source, cursor) VALUES (?, ?, ?)"
                    " ON CONFLICT (run_id, source) DO UPDATE SET cursor = excluded.cursor",
                    (run_id, source, cursor),
                )
            if malformed or dropped:
                self._conn.execute(
                    "INSERT INTO metric_warnings (run_id, malformed, dropped) VALUES (?, ?, ?)"
                    " ON CONFLICT (run_id) DO UPDATE SET"
                    " malformed = malformed + excluded.malformed,"
                    " dropped = dropped + excluded.dropped",
                    (run_id, malformed, dropped),
                )
        return len(rows)

    def _key_states(self, run_id: str) -> dict[str, _KeyState]:
        rows = self._conn.execute(
            "SELECT id, key, count, last, last_step, last_at, min, max FROM metric_keys"
            " WHERE run_id = ?",
            (run_id,),
        )
        return {r[1]: _KeyState(r[0], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows}

    def _new_key(self, run_id: str, key: str) -> _KeyState:
        cursor = self._conn.execute(
            "INSERT INTO metric_keys (run_id, key) VALUES (?, ?)", (run_id, key)
        )
        return _KeyState(cursor.lastrowid, 0, None, None, None, None, None)

    # -- reading ---------------------------------------------------------------------------

    def cursor(self, run_id: str, source: str) -> str | None:
        """Where `source` of the run was read up to (None: not read yet)."""
        row = self._conn.execute(
            "SELECT cursor FROM metric_cursors WHERE run_id = ? AND source = ?",
            (run_id, source),
        ).fetchone()
        return None if row is None else row[0]

    def keys(self, run_id: str) -> list[str]:
        """The run's metrics, by name."""
        rows = self._conn.execute(
            "SELECT key FROM metric_keys WHERE run_id = ? ORDER BY key", (run_id,)
        )
        return [row[0] for row in rows]

    def names(self, containing: str = "", limit: int = 500) -> list[str]:
        """Metric names reported by any run, each once, in order (those holding `containing`,
        at most `limit`). A skip-scan of the (key, …) index — one lookup per distinct name —
        so a store of a million runs answers in milliseconds, not by reading every row."""
        rows = self._conn.execute(
            "WITH RECURSIVE k(key) AS ("
            " SELECT MIN(key) FROM metric_keys"
            " UNION ALL SELECT (SELECT MIN(key) FROM metric_keys WHERE key > k.key)"
            " FROM k WHERE k.key IS NOT NULL)"
            " SELECT key FROM k WHERE key IS NOT NULL AND instr(lower(key), lower(?)) > 0"
            " LIMIT ?",
            (containing, limit),
        )
        return [row[0] for row in rows]

    def points(
        self,
        run_id: str,
        key: str,
        *,
        first_step: int | None = None,
        last_step: int | None = None,
        limit: int | None = None,
    ) -> list[Point]:
        """The points of one metric in step order, optionally a window of steps (both ends
        included) and at most `limit` of them."""
        key_id = self._key_id(run_id, key)
        if key_id is None:
            return []
        sql, params = _window("step, at, value", key_id, first_step, last_step)
        sql += " ORDER BY step, seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [
            Point(key, _nan_if_null(value), step, at)
            for step, at, value in self._conn.execute(sql, params)
        ]

    def buckets(
        self,
        run_id: str,
        key: str,
        width: int,
        *,
        first_step: int | None = None,
        last_step: int | None = None,
    ) -> list[Bucket]:
        """The metric reduced to at most `width` columns of equal step spans (min/max/last of
        each), computed in SQL: a chart of a million points never holds them."""
        key_id = self._key_id(run_id, key)
        if key_id is None or width < 1:
            return []
        # Two queries: SQLite answers a lone MIN or MAX from the index, both at once by a scan.
        low, high = (
            self._conn.execute(*_window(f"{end}(step)", key_id, first_step, last_step)).fetchone()[
                0
            ]
            for end in ("MIN", "MAX")
        )
        if low is None:
            return []
        size = max(1, -(-(high - low + 1) // width))  # ceil: at most `width` buckets
        if size >= 2 * BLOCK_STEPS:
            return self._buckets_of_blocks(key_id, low, high, size, first_step, last_step)
        sql, params = _window(
            "(step - ?) / ? AS b, MIN(step), MIN(value), MAX(value), COUNT(*)",
            key_id,
            first_step,
            last_step,
        )
        rows = self._conn.execute(sql + " GROUP BY b ORDER BY b", [low, size, *params])
        return [
            Bucket(step, _nan_if_null(lo), _nan_if_null(hi), count)
            for _, step, lo, hi, count in rows
        ]

    def _buckets_of_blocks(
        self, key_id: int, low: int, high: int, size: int, first: int | None, last: int | None
    ) -> list[Bucket]:
        """Buckets made of whole blocks (exact for a whole series; a window's first and last
        block are taken whole): a few thousand rows read for a million points."""
        per_bucket = -(-size // BLOCK_STEPS)
        first_block = low // BLOCK_STEPS
        rows = self._conn.execute(
            "SELECT (block - ?) / ? AS b, MIN(block), MIN(min), MAX(max), SUM(count)"
            " FROM metric_blocks WHERE key_id = ? AND block BETWEEN ? AND ?"
            " GROUP BY b ORDER BY b",
            (first_block, per_bucket, key_id, first_block, high // BLOCK_STEPS),
        )
        return [
            Bucket(max(low, block * BLOCK_STEPS), _nan_if_null(lo), _nan_if_null(hi), count)
            for _, block, lo, hi, count in rows
        ]

    def times_at(self, run_id: str, key: str, steps: list[int]) -> dict[int, float]:
        """{step: when its first point was stored} for each of `steps` that has a point at or
        after it (the next one's time otherwise): the chart's time axis, one indexed lookup
        per column rather than a scan of the points' times."""
        key_id = self._key_id(run_id, key)
        if key_id is None:
            return {}
        times = {}
        for step in dict.fromkeys(steps):
            row = self._conn.execute(
                "SELECT at FROM metric_points WHERE key_id = ? AND step >= ?"
                " ORDER BY step, seq LIMIT 1",
                (key_id, step),
            ).fetchone()
            if row is not None and row[0] is not None:
                times[step] = row[0]
        return times

    def summaries(
        self, run_ids: list[str], keys: list[str] | None = None
    ) -> dict[str, dict[str, Summary]]:
        """{run id: {metric: Summary}} for `run_ids` (those with no metric are absent), all
        their metrics or only `keys`. One indexed read per run, whatever their points."""
        found: dict[str, dict[str, Summary]] = {}
        for start in range(0, len(run_ids), _CHUNK):
            chunk = run_ids[start : start + _CHUNK]
            sql = (
                "SELECT run_id, key, count, last, last_step, min, max FROM metric_keys"
                f" WHERE run_id IN ({','.join('?' * len(chunk))})"
            )
            params: list = list(chunk)
            if keys is not None:
                sql += f" AND key IN ({','.join('?' * len(keys))})"
                params += keys
            for run_id, key, count, last, last_step, low, high in self._conn.execute(sql, params):
                if count:
                    found.setdefault(run_id, {})[key] = Summary(
                        count, _nan_if_null(last), last_step, _nan_if_null(low), _nan_if_null(high)
                    )
        return found

    def malformed(self, run_id: str) -> int:
        """Records the run's sources skipped as malformed."""
        return self._warning(run_id, "malformed")

    def dropped(self, run_id: str) -> int:
        """Points dropped because their run already had MAX_KEYS_PER_RUN metrics."""
        return self._warning(run_id, "dropped")

    def _warning(self, run_id: str, column: str) -> int:
        row = self._conn.execute(
            f"SELECT {column} FROM metric_warnings WHERE run_id = ?", (run_id,)
        ).fetchone()
        return 0 if row is None else row[0]

    def _key_id(self, run_id: str, key: str) -> int | None:
        row = self._conn.execute(
            "SELECT id FROM metric_keys WHERE run_id = ? AND key = ?", (run_id, key)
        ).fetchone()
        return None if row is None else row[0]


def _window(columns: str, key_id: int, first: int | None, last: int | None) -> tuple[str, list]:
    sql, params = f"SELECT {columns} FROM metric_points WHERE key_id = ?", [key_id]
    if first is not None:
        sql += " AND step >= ?"
        params.append(first)
    if last is not None:
        sql += " AND step <= ?"
        params.append(last)
    return sql, params


_BLOCK_UPSERT = (
    "INSERT INTO metric_blocks (key_id, block, min, max, count) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (key_id, block) DO UPDATE SET"
    " min = CASE WHEN min IS NULL OR excluded.min < min THEN excluded.min ELSE min END,"
    " max = CASE WHEN max IS NULL OR excluded.max > max THEN excluded.max ELSE max END,"
    " count = count + excluded.count"
)


def _add_to_block(blocks: dict, row: tuple) -> None:
    """Fold a point's row (key id, step, seq, at, value) into its block's [min, max, count]."""
    key_id, step, _, _, value = row
    block = blocks.get((key_id, step // BLOCK_STEPS))
    if block is None:
        block = blocks[(key_id, step // BLOCK_STEPS)] = [None, None, 0]
    block[2] += 1
    if value == value:  # NaN is left out of min and max
        if block[0] is None or value < block[0]:
            block[0] = value
        if block[1] is None or value > block[1]:
            block[1] = value


def _advance(state: _KeyState, point: Point, now: float) -> tuple:
    """The row of `point`, its key's summary moved on past it."""
    value = point.value
    step = point.step
    if step is None:
        step = 0 if state.last_step is None else state.last_step + 1
    step = min(max(step, _MIN_STEP), _MAX_STEP)  # SQLite's integers: a step past them is held
    at = now if point.at is None else point.at
    row = (state.id, step, state.count, at, value)  # a NaN is bound as NULL by SQLite
    if value == value:  # not NaN
        state.low = value if state.low is None or value < state.low else state.low
        state.high = value if state.high is None or value > state.high else state.high
        state.last = value
    else:
        state.last = None
    state.count += 1
    state.last_step, state.last_at, state.touched = step, at, True
    return row

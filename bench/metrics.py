"""Metric ingest: points per second into the store by `store.metrics.append` (the agent's path:
slices of SLICE_POINTS points, each one transaction with its summaries and cursor), against a
bare SQLite executemany of the same rows into a table of the same shape, in the same file and
the same slices (the baseline); and the whole agent path, JSON lines read from a file by the
protocol's source and appended. Median of a few repeats; target: at least 100,000 points/s.
"""

import _common  # noqa: I001  (first: fixes sys.path so that `queue` is the stdlib's)

import json
import tempfile
import time
from pathlib import Path

from bench.seed import seed_runs
from runners.agent.metric_ingest import SLICE_POINTS
from runners.metrics.jsonl import JsonLinesSource
from store import Store
from store.metrics import Point

KEYS = 10  # a training loop's handful of metrics, each point of a step


def _points(n: int) -> list[Point]:
    now = time.time()
    return [Point(f"m{i % KEYS}", 1.0 / (i + 1), i // KEYS, now + i) for i in range(n)]


def _append_rate(store: Store, run_id: str, points: list[Point]) -> float:
    start = time.perf_counter()
    for at in range(0, len(points), SLICE_POINTS):
        store.metrics.append(run_id, points[at : at + SLICE_POINTS], source="bench", cursor=str(at))
    return len(points) / (time.perf_counter() - start)


def _bare_rate(store: Store, table: str, points: list[Point]) -> float:
    conn = store.conn
    conn.execute(
        f"CREATE TABLE {table} (key_id INTEGER NOT NULL, step INTEGER NOT NULL,"
        " seq INTEGER NOT NULL, at REAL, value REAL, PRIMARY KEY (key_id, step, seq))"
        " WITHOUT ROWID"
    )
    rows = [(i % KEYS, p.step, i // KEYS, p.at, p.value) for i, p in enumerate(points)]
    start = time.perf_counter()
    for at in range(0, len(rows), SLICE_POINTS):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", rows[at : at + SLICE_POINTS]
        )
        conn.execute("COMMIT")
    return len(rows) / (time.perf_counter() - start)


def _file_rate(store: Store, run_id: str, folder: Path, n: int) -> float:
    path = folder / f"{run_id}.jsonl"
    with open(path, "w") as f:
        for step in range(n // KEYS):
            f.write(json.dumps({f"m{k}": 1.0 / (step + 1) for k in range(KEYS)} | {"step": step}))
            f.write("\n")
    source, cursor, stored = JsonLinesSource("file", path), None, 0
    start = time.perf_counter()
    while True:
        batch = source.read(cursor, SLICE_POINTS)
        if not batch.points:
            break
        stored += store.metrics.append(run_id, batch.points, source="file", cursor=batch.cursor)
        cursor = batch.cursor
    return stored / (time.perf_counter() - start)


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    n, repeats = (50_000, 3) if args.quick else (500_000, 5)
    rates: dict[str, list[float]] = {"append": [], "bare": [], "file": []}
    with tempfile.TemporaryDirectory(prefix="lb-bench-metrics-") as tmp:
        store = Store.open(Path(tmp) / "lb.db")
        try:
            seed_runs(store, 2 * repeats)
            run_ids = [row[0] for row in store.conn.execute("SELECT id FROM runs")]
            points = _points(n)
            for r in range(repeats):
                rates["bare"].append(_bare_rate(store, f"bare_{r}", points))
                rates["append"].append(_append_rate(store, run_ids[2 * r], points))
                rates["file"].append(_file_rate(store, run_ids[2 * r + 1], Path(tmp), n))
        finally:
            store.close()
    append, bare, file = (_common.median(rates[k]) for k in ("append", "bare", "file"))
    _common.emit(
        "metrics.ingest_append",
        append,
        "points/s",
        baseline_bare_sqlite=bare,
        ratio=append / bare,
        points=n,
        repeats=repeats,
        target=100_000,
    )
    _common.emit("metrics.ingest_jsonl_file", file, "points/s", points=n, target=100_000)


if __name__ == "__main__":
    main()

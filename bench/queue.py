"""Queue throughput: enqueue/s and claim+complete/s through the store's own API.

Every operation is its own transaction (the store's connections are in autocommit mode), as an
agent and a CLI would do them. Baselines, measured in the same run on fresh files:

- huey's `SqliteStorage` (enqueue / dequeue, dequeue being its claim+complete): once as
  configured like our store (WAL, synchronous=NORMAL), the like-for-like comparison, and once
  as shipped (WAL, synchronous left at SQLite's FULL: one fsync per commit), with a smaller N
  since each op then costs a disk flush.
- a bare sqlite3 loop on a table shaped like `queue_items`, with the same partial index: the
  floor, i.e. SQLite's own cost of the same statements without our Python around them. Its
  payload is serialized once and its claimed rows are not parsed.

Each measurement runs ROUNDS times, on fresh files, systems in rotating order; we quote medians.
"""

import _common  # noqa: I001  (first: fixes sys.path so that `queue` is the stdlib's)

import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from huey.storage import SqliteStorage

from runners.catalog.queues import create_queue
from store import Store

ROUNDS = 5
OWNER = "bench-agent"
# What `prepare_launch` stores for a typical local-process launch.
LAUNCH = {
    "run_config": {"lr": 0.001, "epochs": 10, "batch_size": 64},
    "args": ["--seed", "1"],
    "entry_point": ["python", "train.py"],
    "resource_args": {"env": {}, "cwd": None, "stop_grace_seconds": 10.0},
    "template_variables": {},
}
PAYLOAD = json.dumps(LAUNCH)

# Rates for one round: (enqueue ops/s, claim+complete ops/s).
Rates = tuple[float, float]


def timed_rate(n: int, op: Callable[[], object]) -> float:
    """Run `op` n times; ops per second."""
    start = time.perf_counter()
    for _ in range(n):
        op()
    return n / (time.perf_counter() - start)


# -- launchbay's store ---------------------------------------------------------------------------


def bench_store(folder: Path, n: int) -> Rates:
    store = Store.open(folder / "lb.db")
    try:
        job = store.jobs.create_version("bench", "image", {"image": "python:3.11"}).version
        queue = create_queue(store, "bench", "local-process")

        def enqueue() -> None:
            store.items.enqueue(queue.id, job.id, job.ref, LAUNCH)

        def claim_and_complete() -> None:
            item = store.items.lease_next(queue, OWNER)
            if item is None or not store.items.ack(item.id, OWNER):
                raise RuntimeError("store: the queue ran dry or an ack was refused")

        return timed_rate(n, enqueue), timed_rate(n, claim_and_complete)
    finally:
        store.close()


# -- huey ----------------------------------------------------------------------------------------


def bench_huey(folder: Path, n: int, synchronous: str | None) -> Rates:
    storage = SqliteStorage(name="bench", filename=str(folder / "huey.db"))
    if synchronous is not None:
        storage.conn.execute(f"PRAGMA synchronous = {synchronous}")
    data = PAYLOAD.encode()
    try:

        def enqueue() -> None:
            storage.enqueue(data)

        def dequeue() -> None:
            if storage.dequeue() is None:
                raise RuntimeError("huey: the queue ran dry")

        return timed_rate(n, enqueue), timed_rate(n, dequeue)
    finally:
        storage.close()


# -- bare sqlite3 --------------------------------------------------------------------------------

_BARE_SCHEMA = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL,
    job_version_id INTEGER NOT NULL,
    job_ref TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 2,
    state TEXT NOT NULL DEFAULT 'pending',
    launch TEXT NOT NULL,
    lease_owner TEXT,
    lease_expires_at REAL,
    waiting INTEGER DEFAULT 1,
    run_id TEXT,
    resume_count INTEGER NOT NULL DEFAULT 0,
    error_stage TEXT,
    error_message TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX items_waiting ON items(queue_id, priority, id) WHERE waiting = 1;
"""
_BARE_INSERT = (
    "INSERT INTO items (queue_id, job_version_id, job_ref, priority, launch, created_at,"
    " updated_at) VALUES (1, 1, 'bench:v0', 2, ?, ?, ?)"
)
_BARE_LEASE = """
UPDATE items SET state = 'leased', lease_owner = ?, lease_expires_at = ?, updated_at = ?
 WHERE id = (SELECT id FROM items WHERE queue_id = 1 AND waiting = 1 AND state = 'pending'
             ORDER BY priority, id LIMIT 1)
RETURNING id, queue_id, job_version_id, job_ref, priority, state, launch, lease_owner,
          lease_expires_at, run_id, resume_count, error_stage, error_message, created_at,
          updated_at
"""
_BARE_CLAIM = (
    "UPDATE items SET state = 'claimed', waiting = NULL, lease_owner = NULL,"
    " lease_expires_at = NULL,"
    " updated_at = ? WHERE id = ? AND state = 'leased' AND lease_owner = ?"
)


def bench_bare(folder: Path, n: int) -> Rates:
    conn = sqlite3.connect(folder / "bare.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(_BARE_SCHEMA)

        def enqueue() -> None:
            now = time.time()
            conn.execute(_BARE_INSERT, (PAYLOAD, now, now))

        def claim_and_complete() -> None:
            now = time.time()
            row = conn.execute(_BARE_LEASE, (OWNER, now + 60, now)).fetchone()
            if row is None:
                raise RuntimeError("bare: the queue ran dry")
            conn.execute(_BARE_CLAIM, (time.time(), row[0], OWNER))

        return timed_rate(n, enqueue), timed_rate(n, claim_and_complete)
    finally:
        conn.close()


# -- the run ---------------------------------------------------------------------------------


def measure(systems: dict[str, tuple[Callable[[Path, int], Rates], int]]) -> dict[str, list]:
    """Each system ROUNDS times on fresh files, rotating the order so that no system always
    runs first (cold caches) or last (a warm, possibly throttled machine)."""
    results: dict[str, list[Rates]] = {name: [] for name in systems}
    names = list(systems)
    for round_index in range(ROUNDS):
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for name in order:
            bench, n = systems[name]
            with tempfile.TemporaryDirectory(prefix="lb-bench-queue-") as folder:
                results[name].append(bench(Path(folder), n))
    return results


def report(results: dict[str, list[Rates]], sizes: dict[str, int]) -> None:
    operations = (("enqueue", 0), ("claim_complete", 1))
    medians = {
        name: [_common.median([rates[i] for rates in rounds]) for _, i in operations]
        for name, rounds in results.items()
    }
    for op, i in operations:
        ours = medians["store"][i]
        _common.emit(f"queue.{op}_rate", ours, "ops/s", n=sizes["store"], rounds=ROUNDS)
        for baseline, target, note in (
            ("huey", 2.0, "huey SqliteStorage, WAL + synchronous=NORMAL like our store"),
            ("huey_default", 2.0, "huey SqliteStorage as shipped: synchronous=FULL, fsync/commit"),
            ("bare", 0.7, "bare sqlite3, same statements, no Python layer"),
        ):
            base = medians[baseline][i]
            _common.emit(
                f"queue.{op}_vs_{baseline}",
                ours / base,
                "ratio",
                value_ops_s=ours,
                baseline=base,
                baseline_n=sizes[baseline],
                target=f">= {target}",
                meets_target=ours / base >= target,
                note=note,
            )


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    n = 500 if args.quick else 5000
    # Each op of huey-as-shipped waits for a disk flush (~3 ms here): fewer ops, same rate.
    n_synced = 100 if args.quick else 1000
    systems = {
        "store": (bench_store, n),
        "huey": (lambda folder, k: bench_huey(folder, k, "NORMAL"), n),
        "huey_default": (lambda folder, k: bench_huey(folder, k, None), n_synced),
        "bare": (bench_bare, n),
    }
    results = measure(systems)
    report(results, {name: size for name, (_, size) in systems.items()})


if __name__ == "__main__":
    main()

"""Bulk data for benchmarks: N runs (with their items) in a few seconds, through plain SQL.

The store's own API makes one transaction per call, which would take minutes for a million
runs; this writes rows shaped exactly as the store writes them, in one transaction.
"""

import json
import random
import sys
import time
from pathlib import Path

from runners.catalog.queues import check_queue_config
from store import Store

STATES = ["finished"] * 70 + ["failed"] * 15 + ["stopped"] * 5 + ["crashed"] * 2 + ["running"] * 8
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def seed_runs(store: Store, n: int, *, queues: int = 4, jobs: int = 6, seed: int = 7) -> None:
    """Add `n` finished-or-live runs spread over a few queues and jobs, newest last."""
    rng = random.Random(seed)
    queue_ids = []
    for q in range(queues):
        name = f"queue-{q}"
        queue_ids.append(
            store.queues.create(name, "local-process", check_queue_config("local-process", {})).id
        )
    versions = [
        store.jobs.create_version(
            f"job-{j}", "image", {"image": f"registry:5000/job-{j}:1"}
        ).version
        for j in range(jobs)
    ]
    now = time.time()
    start = now - n * 2.0
    spec = json.dumps({"entry_point": ["python", "train.py"], "args": [], "run_config": {}})
    launch = json.dumps({"run_config": {}, "args": [], "entry_point": None, "resource_args": {}})
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    item_rows, run_rows = [], []
    for i in range(n):
        created = start + i * 2.0
        version = versions[i % len(versions)]
        queue_id = queue_ids[i % len(queue_ids)]
        state = rng.choice(STATES)
        run_id = "r" + "".join(rng.choice(_ALPHABET) for _ in range(7))
        ended = None if state == "running" else created + rng.uniform(5, 600)
        exit_code = {"finished": 0, "failed": 1}.get(state)
        item_rows.append(
            (
                i + 1,
                queue_id,
                version.id,
                version.ref,
                2,
                "claimed",
                launch,
                None,
                run_id,
                created,
                created,
            )
        )
        run_rows.append(
            (
                run_id,
                i + 1,
                version.id,
                version.ref,
                queue_id,
                "local-process",
                spec,
                state,
                exit_code,
                created,
                created + 0.5,
                ended,
            )
        )
    conn.executemany(
        "INSERT INTO queue_items (id, queue_id, job_version_id, job_ref, priority, state, launch,"
        " waiting, run_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        item_rows,
    )
    conn.executemany(
        "INSERT OR IGNORE INTO runs (id, item_id, job_version_id, job_ref, queue_id, resource,"
        " spec, state, exit_code, created_at, started_at, ended_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        run_rows,
    )
    conn.execute("COMMIT")


def seed_metrics(store: Store, keys: tuple[str, ...] = ("val/loss", "acc"), seed: int = 11) -> None:
    """Give every run a summary of each of `keys` (the rows the ingest keeps up to date), as
    if each had reported 100 steps of them: what summary columns over every run read."""
    rng = random.Random(seed)
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    run_ids = [row[0] for row in conn.execute("SELECT id FROM runs")]
    rows = []
    for run_id in run_ids:
        for key in keys:
            low = rng.uniform(0.05, 2.0)
            rows.append((run_id, key, 100, low * 1.1, 99, low, low * 3))
    conn.executemany(
        "INSERT INTO metric_keys (run_id, key, count, last, last_step, min, max)"
        " VALUES (?,?,?,?,?,?,?)",
        rows,
    )
    conn.execute("COMMIT")


def seed_file(path: Path, n: int, metrics: bool = False) -> None:
    """A new store at `path` with `n` runs (and their metrics' summaries if asked), its WAL
    folded in (a reader opens it as it is)."""
    store = Store.open(path)
    try:
        seed_runs(store, n)
        if metrics:
            seed_metrics(store)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()


if __name__ == "__main__":
    # `python -m bench.seed PATH N [--metrics]`: a benchmark seeds in a child, so that the
    # memory the seeding takes (a million rows built at once) is never counted as the app's.
    seed_file(Path(sys.argv[1]), int(sys.argv[2]), metrics="--metrics" in sys.argv[3:])

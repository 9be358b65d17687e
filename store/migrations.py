"""The schema, as sqlite-utils migrations (plain functions, applied in order).

`SCHEMA_VERSION` is the number of migrations; it is also written to `PRAGMA user_version` so
that opening an up-to-date file costs one pragma and no sqlite-utils import, and so that a file
written by a newer launchbay (a larger user_version) is recognised and refused untouched.
"""

import sqlite_utils

from .schema_version import SCHEMA_VERSION

MIGRATION_SET = "launchbay"


def m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL
        );
        CREATE TABLE job_versions (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            version INTEGER NOT NULL,
            type TEXT NOT NULL CHECK (type IN ('image', 'code', 'git')),
            digest TEXT NOT NULL,
            source TEXT NOT NULL,          -- JSON: image, artifact digest, or git url/commit/subdir
            entrypoint TEXT,               -- JSON argv list, or NULL for the type's default
            input_schema TEXT,             -- JSON schema of the run config, or NULL
            created_at REAL NOT NULL,
            UNIQUE (job_id, version)
        );
        CREATE TABLE job_aliases (
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            alias TEXT NOT NULL,
            version_id INTEGER NOT NULL REFERENCES job_versions(id),
            PRIMARY KEY (job_id, alias)
        );
        CREATE TABLE queues (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            resource TEXT NOT NULL,
            config TEXT NOT NULL,          -- JSON: resource_args and template_variables
            paused INTEGER NOT NULL DEFAULT 0,
            max_concurrency INTEGER,
            created_at REAL NOT NULL,
            deleted_at REAL
        );
        -- A deleted queue keeps its row (its runs still point at it) but frees its name.
        CREATE UNIQUE INDEX queues_live_name ON queues(name) WHERE deleted_at IS NULL;

        -- AUTOINCREMENT: ids are never reused, so FIFO by id stays strict.
        CREATE TABLE queue_items (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            queue_id INTEGER NOT NULL REFERENCES queues(id),
            job_version_id INTEGER NOT NULL REFERENCES job_versions(id),
            job_ref TEXT NOT NULL,         -- name:vN, kept here since versions never change
            priority INTEGER NOT NULL DEFAULT 2,
            state TEXT NOT NULL DEFAULT 'pending',
            launch TEXT NOT NULL,          -- JSON: the validated launch request
            lease_owner TEXT,
            lease_expires_at REAL,
            waiting INTEGER DEFAULT 1,     -- 1 while pending or leased, NULL once it moved on
            run_id TEXT,
            resume_count INTEGER NOT NULL DEFAULT 0,
            error_stage TEXT,
            error_message TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        -- Only waiting items are indexed, so the claimed and ended history can grow without
        -- slowing dispatch. Leasing keeps an item in this index (only its state changes) and
        -- claiming removes it: a dispatch touches one index page, not two.
        -- Queries must say `waiting = 1` word for word for SQLite to use it.
        CREATE INDEX queue_items_waiting ON queue_items(queue_id, priority, id)
            WHERE waiting = 1;

        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES queue_items(id),
            job_version_id INTEGER NOT NULL REFERENCES job_versions(id),
            job_ref TEXT NOT NULL,
            queue_id INTEGER NOT NULL REFERENCES queues(id),
            resource TEXT NOT NULL,
            spec TEXT NOT NULL,            -- JSON: exactly what the runner received
            state TEXT NOT NULL,
            agent_id TEXT,
            handle TEXT,                   -- JSON: how the runner finds the run again
            message TEXT,
            exit_code INTEGER,
            error_stage TEXT,
            error_message TEXT,
            stop_requested_at REAL,
            created_at REAL NOT NULL,
            started_at REAL,
            ended_at REAL
        );
        -- Newest first, for the runs table and its filters (keyset paging on created_at, id).
        CREATE INDEX runs_created ON runs(created_at DESC, id DESC);
        CREATE INDEX runs_state_created ON runs(state, created_at DESC, id DESC);
        CREATE INDEX runs_queue_created ON runs(queue_id, created_at DESC, id DESC);
        CREATE INDEX runs_live ON runs(queue_id, state) WHERE ended_at IS NULL;
        CREATE INDEX runs_item ON runs(item_id);

        CREATE TABLE run_events (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            at REAL NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            message TEXT
        );
        CREATE INDEX run_events_run ON run_events(run_id, id);

        CREATE TABLE agents (
            id TEXT PRIMARY KEY,
            hostname TEXT NOT NULL,
            pid INTEGER NOT NULL,
            pid_start_time INTEGER,
            queues TEXT NOT NULL,          -- JSON list of queue names, [] for all
            max_jobs INTEGER NOT NULL,
            started_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL,
            stopped_at REAL,
            last_error TEXT
        );
        """
    )


def m002_gpu_allocations(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE gpu_allocations (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            device TEXT NOT NULL,          -- the device's UUID, or its index (declared, no UUID)
            device_index INTEGER NOT NULL,
            allocated_at REAL NOT NULL,
            ends_by REAL,                  -- allocated_at + the run's time limit, if it has one
            released_at REAL,
            -- The device as the agent last sampled it while the run held it.
            sampled_at REAL,
            utilization_percent INTEGER,
            memory_used_mib INTEGER
        );
        -- A device has at most one live allocation: the database refuses a second one, whichever
        -- agent asks.
        CREATE UNIQUE INDEX gpu_allocations_held ON gpu_allocations(device)
            WHERE released_at IS NULL;
        CREATE INDEX gpu_allocations_run ON gpu_allocations(run_id);

        -- Ending a run releases its devices in the same statement, whatever path ends it.
        CREATE TRIGGER gpu_allocations_release AFTER UPDATE OF ended_at ON runs
            WHEN NEW.ended_at IS NOT NULL AND OLD.ended_at IS NULL
        BEGIN
            UPDATE gpu_allocations SET released_at = NEW.ended_at
             WHERE run_id = NEW.id AND released_at IS NULL;
        END;
        """
    )


def m003_metrics(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- One row per (run, metric): its id for the points, and its summary, kept up to date
        -- by every append so that `runs list` and the runs table read one row, not the points.
        -- Value columns: NULL means NaN (SQLite stores a NaN as NULL; ±inf are kept as is).
        CREATE TABLE metric_keys (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            key TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0,
            last REAL,
            last_step INTEGER,
            last_at REAL,
            min REAL,                      -- NaN ignored; NULL while every value was NaN
            max REAL,
            UNIQUE (run_id, key)
        );
        -- The runs table sorted by a summary column (`val/loss min`) over a million runs: an
        -- index walk per page, not a sort. Cheap on ingest: one key row changes per append.
        CREATE INDEX metric_keys_by_last ON metric_keys(key, last);
        CREATE INDEX metric_keys_by_min ON metric_keys(key, min);
        CREATE INDEX metric_keys_by_max ON metric_keys(key, max);
        -- Points in step order (then arrival order: a step given twice keeps both), one
        -- B-tree, no rowid: a window of one metric is one range scan.
        CREATE TABLE metric_points (
            key_id INTEGER NOT NULL,
            step INTEGER NOT NULL,
            seq INTEGER NOT NULL,          -- the key's count before this point
            at REAL,
            value REAL,                    -- NULL: NaN
            PRIMARY KEY (key_id, step, seq)
        ) WITHOUT ROWID;
        -- Each metric's min/max/count per block of BLOCK_STEPS steps, kept on ingest: a chart
        -- of a million points reads a few thousand of these, not the points.
        CREATE TABLE metric_blocks (
            key_id INTEGER NOT NULL,
            block INTEGER NOT NULL,        -- step // BLOCK_STEPS (store/metrics.py)
            min REAL,                      -- NaN ignored; NULL while every value was NaN
            max REAL,
            count INTEGER NOT NULL,
            PRIMARY KEY (key_id, block)
        ) WITHOUT ROWID;
        -- Where each source of a run was read up to, written with its points.
        CREATE TABLE metric_cursors (
            run_id TEXT NOT NULL,
            source TEXT NOT NULL,
            cursor TEXT,
            PRIMARY KEY (run_id, source)
        ) WITHOUT ROWID;
        -- What a run's sources skipped: malformed records, and points of keys past the cap.
        CREATE TABLE metric_warnings (
            run_id TEXT PRIMARY KEY,
            malformed INTEGER NOT NULL DEFAULT 0,
            dropped INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        """
    )


def m004_preferences(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- What the app remembers per store, e.g. the runs table's summary columns and sort:
        -- they name this store's metrics, so they live with them. Values are JSON.
        CREATE TABLE preferences (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        """
    )


def m005_run_tags_notes(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- A run's tags (`runs tag RUN x y`): a row each, so that `tag:x` on the runs table is
        -- an index range, not a scan of every run's text.
        CREATE TABLE run_tags (
            run_id TEXT NOT NULL REFERENCES runs(id),
            tag TEXT NOT NULL,
            PRIMARY KEY (run_id, tag)
        ) WITHOUT ROWID;
        CREATE INDEX run_tags_by_tag ON run_tags(tag, run_id);
        -- A run's note (`runs note RUN "…"`): free text, at most one per run.
        CREATE TABLE run_notes (
            run_id TEXT PRIMARY KEY REFERENCES runs(id),
            note TEXT NOT NULL,
            updated_at REAL NOT NULL
        ) WITHOUT ROWID;
        """
    )


def m006_sweeps(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- A sweep: a search over a job's run config, its trials enqueued on one queue.
        CREATE TABLE sweeps (
            id TEXT PRIMARY KEY,           -- also WANDB_SWEEP_ID in its trials' runs
            name TEXT NOT NULL,
            job_version_id INTEGER NOT NULL REFERENCES job_versions(id),
            job_ref TEXT NOT NULL,
            queue_id INTEGER NOT NULL REFERENCES queues(id),
            config TEXT NOT NULL,          -- JSON: the sweep config, as checked at create
            launch TEXT NOT NULL,          -- JSON: the prepared launch each trial starts from
            priority INTEGER NOT NULL,
            parallel INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'running',  -- running, paused, stopped, finished
            message TEXT,
            created_at REAL NOT NULL,
            ended_at REAL
        );
        -- A trial is written with its queue item in one transaction: after a crash, every
        -- suggestion has its item and no item lacks its trial. (sweep_id, number) is the
        -- primary key, so two agents can never record the same suggestion twice.
        CREATE TABLE sweep_trials (
            sweep_id TEXT NOT NULL REFERENCES sweeps(id),
            number INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'running',  -- running, finished, failed, pruned, stopped
            params TEXT NOT NULL,          -- JSON: the run config values this trial sets
            suggested TEXT NOT NULL,       -- JSON: {path: value} as the searcher drew them
            item_id INTEGER NOT NULL REFERENCES queue_items(id),
            objective REAL,
            pruned_step INTEGER,
            message TEXT,
            created_at REAL NOT NULL,
            ended_at REAL,
            PRIMARY KEY (sweep_id, number)
        ) WITHOUT ROWID;
        CREATE INDEX sweep_trials_live ON sweep_trials(sweep_id) WHERE ended_at IS NULL;
        CREATE UNIQUE INDEX sweep_trials_item ON sweep_trials(item_id);
        """
    )


def m007_retries(db: sqlite_utils.Database) -> None:
    """Retries by policy (issue 16): each attempt is its own item and run, linked to the first."""
    db.executescript(
        """
        -- 1 for a launch; n for its (n-1)th retry.
        ALTER TABLE queue_items ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
        -- The item of the first attempt, on every retry: the attempts of one launch.
        ALTER TABLE queue_items ADD COLUMN retry_of INTEGER REFERENCES queue_items(id);
        -- A retry waits out its backoff: no agent leases it before this time.
        ALTER TABLE queue_items ADD COLUMN not_before REAL;
        """
    )


# Append new migrations here; never edit or reorder one that has shipped.
MIGRATIONS = (
    m001_initial,
    m002_gpu_allocations,
    m003_metrics,
    m004_preferences,
    m005_run_tags_notes,
    m006_sweeps,
    m007_retries,
)
if len(MIGRATIONS) != SCHEMA_VERSION:
    raise RuntimeError("store/schema_version.py must equal the number of migrations")

migrations = sqlite_utils.Migrations(MIGRATION_SET)
for _migration in MIGRATIONS:
    migrations()(_migration)

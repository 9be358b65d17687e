"""Sweeps and their trials: what a search suggested, the queue item each suggestion became, and
how each ended.

A suggestion and its queue item are written in one `BEGIN IMMEDIATE` transaction
(`add_trial`), keyed by (sweep, number): an agent killed at any moment leaves either both or
neither, and a second agent can never record the same trial number again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from .errors import BadInput, NotFound
from .records import iso
from .states import Priority

SWEEP_STATES = ("running", "paused", "stopped", "finished")
TRIAL_ENDS = ("finished", "failed", "pruned", "stopped")


@dataclass(frozen=True)
class Sweep:
    id: str
    name: str
    job_version_id: int
    job: str
    queue_id: int
    queue: str
    config: dict
    launch: dict
    priority: Priority
    parallel: int
    seed: int
    state: str
    message: str | None
    created_at: float
    ended_at: float | None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "job": self.job,
            "queue": self.queue,
            "method": self.config.get("method"),
            "metric": self.config.get("metric"),
            "run_cap": self.config.get("run_cap"),
            "parallel": self.parallel,
            "seed": self.seed,
            "state": self.state,
            "message": self.message,
            "config": self.config,
            "created_at": iso(self.created_at),
            "ended_at": iso(self.ended_at),
        }


@dataclass(frozen=True)
class Trial:
    sweep_id: str
    number: int
    state: str
    params: dict
    suggested: dict
    item_id: int
    item_state: str
    run_id: str | None
    run_state: str | None
    objective: float | None
    pruned_step: int | None
    message: str | None
    created_at: float
    ended_at: float | None

    def to_json(self) -> dict:
        return {
            "number": self.number,
            "state": self.state,
            "params": self.params,
            "item_id": self.item_id,
            "run_id": self.run_id,
            "objective": self.objective,
            "pruned_step": self.pruned_step,
            "message": self.message,
            "created_at": iso(self.created_at),
            "ended_at": iso(self.ended_at),
        }


_SWEEP_COLUMNS = """s.id, s.name, s.job_version_id, s.job_ref, s.queue_id, q.name AS queue,
    s.config, s.launch, s.priority, s.parallel, s.seed, s.state, s.message, s.created_at,
    s.ended_at"""
_SWEEP_FROM = "sweeps s JOIN queues q ON q.id = s.queue_id"
# The trial's run: the newest of its item (a preempted run's item is requeued and runs again).
_TRIAL_COLUMNS = """t.sweep_id, t.number, t.state, t.params, t.suggested, t.item_id,
    i.state AS item_state, r.id AS run_id, r.state AS run_state, t.objective, t.pruned_step,
    t.message, t.created_at, t.ended_at"""
_TRIAL_FROM = """sweep_trials t JOIN queue_items i ON i.id = t.item_id
    LEFT JOIN runs r ON r.id = (SELECT id FROM runs WHERE item_id = t.item_id
                                ORDER BY created_at DESC LIMIT 1)"""


class SweepStore:
    def __init__(self, conn: sqlite3.Connection, transaction, notify):
        self._conn = conn
        self._transaction = transaction
        self._notify = notify

    def create(
        self,
        sweep_id: str,
        name: str,
        *,
        job_version_id: int,
        job_ref: str,
        queue_id: int,
        config: dict,
        launch: dict,
        priority: Priority,
        parallel: int,
        seed: int,
    ) -> Sweep:
        self._conn.execute(
            "INSERT INTO sweeps (id, name, job_version_id, job_ref, queue_id, config, launch,"
            " priority, parallel, seed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sweep_id,
                name,
                job_version_id,
                job_ref,
                queue_id,
                json.dumps(config),
                json.dumps(launch),
                int(priority),
                parallel,
                seed,
                time.time(),
            ),
        )
        self._notify()
        return self.get(sweep_id)

    def get(self, ident: str) -> Sweep:
        """A sweep by id, or by name when exactly one sweep has it."""
        rows = self._conn.execute(
            f"SELECT {_SWEEP_COLUMNS} FROM {_SWEEP_FROM} WHERE s.id = ?"
            " UNION ALL SELECT * FROM (SELECT"
            f" {_SWEEP_COLUMNS} FROM {_SWEEP_FROM} WHERE s.name = ? ORDER BY s.created_at)",
            (ident, ident),
        ).fetchall()
        if not rows:
            raise NotFound("sweep", f"no sweep with id or name {ident!r}")
        if rows[0]["id"] != ident and len(rows) > 1:
            raise BadInput("SWEEP", f"{len(rows)} sweeps are named {ident!r}; give its id")
        return _sweep_from_row(rows[0])

    def list(self, *, queue_ids: list[int] | None = None, active_only: bool = False) -> list:
        """Sweeps newest first; `active_only`: those running or paused, or with live trials."""
        where, params = [], []
        if queue_ids is not None:
            where.append(f"s.queue_id IN ({','.join('?' * len(queue_ids))})")
            params += queue_ids
        if active_only:
            where.append(
                "(s.state IN ('running', 'paused') OR EXISTS (SELECT 1 FROM sweep_trials t"
                " WHERE t.sweep_id = s.id AND t.ended_at IS NULL))"
            )
        sql = f"SELECT {_SWEEP_COLUMNS} FROM {_SWEEP_FROM}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY s.created_at DESC, s.id"
        return [_sweep_from_row(row) for row in self._conn.execute(sql, params)]

    def set_state(self, sweep_id: str, state: str, message: str | None = None) -> Sweep:
        """pause/resume/stop/finish. A stopped or finished sweep is final; stopping one cancels
        its trials still waiting in the queue (those running finish)."""
        if state not in SWEEP_STATES:
            raise ValueError(state)
        with self._transaction():
            sweep = self.get(sweep_id)
            if sweep.state in ("stopped", "finished"):
                raise BadInput("SWEEP", f"sweep {sweep.id} is {sweep.state}; it cannot change")
            ended = time.time() if state in ("stopped", "finished") else None
            self._conn.execute(
                "UPDATE sweeps SET state = ?, message = COALESCE(?, message), ended_at = ?"
                " WHERE id = ?",
                (state, message, ended, sweep.id),
            )
            if state == "stopped":
                self._conn.execute(
                    "UPDATE queue_items SET state = 'cancelled', waiting = NULL,"
                    " lease_owner = NULL, lease_expires_at = NULL, updated_at = ?"
                    " WHERE state = 'pending' AND id IN"
                    " (SELECT item_id FROM sweep_trials WHERE sweep_id = ? AND ended_at IS NULL)",
                    (time.time(), sweep.id),
                )
        self._notify()
        return self.get(sweep.id)

    def add_trial(
        self, sweep: Sweep, number: int, params: dict, suggested: dict, launch: dict
    ) -> int | None:
        """Record trial `number` and enqueue its item, in one transaction; the item's id, or
        None when the sweep no longer wants it (not running, or already that many trials, or
        `parallel` trials already live)."""
        now = time.time()
        with self._transaction():
            row = self._conn.execute(
                "SELECT state, (SELECT COUNT(*) FROM sweep_trials WHERE sweep_id = s.id),"
                " (SELECT COUNT(*) FROM sweep_trials WHERE sweep_id = s.id AND ended_at IS NULL)"
                " FROM sweeps s WHERE id = ?",
                (sweep.id,),
            ).fetchone()
            if row[0] != "running" or row[1] != number or row[2] >= sweep.parallel:
                return None
            item_id = self._conn.execute(
                "INSERT INTO queue_items (queue_id, job_version_id, job_ref, priority, launch,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    sweep.queue_id,
                    sweep.job_version_id,
                    sweep.job,
                    int(sweep.priority),
                    json.dumps(launch),
                    now,
                    now,
                ),
            ).lastrowid
            self._conn.execute(
                "INSERT INTO sweep_trials (sweep_id, number, params, suggested, item_id,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (sweep.id, number, json.dumps(params), json.dumps(suggested), item_id, now),
            )
        self._notify()
        return item_id

    def trials(self, sweep_id: str, *, live_only: bool = False) -> list[Trial]:
        """The sweep's trials by number (`live_only`: those not ended)."""
        sql = f"SELECT {_TRIAL_COLUMNS} FROM {_TRIAL_FROM} WHERE t.sweep_id = ?"
        if live_only:
            sql += " AND t.ended_at IS NULL"
        sql += " ORDER BY t.number"
        return [_trial_from_row(row) for row in self._conn.execute(sql, (sweep_id,))]

    def end_trial(
        self,
        sweep_id: str,
        number: int,
        state: str,
        *,
        objective: float | None = None,
        message: str | None = None,
    ) -> None:
        if state not in TRIAL_ENDS:
            raise ValueError(state)
        self._conn.execute(
            "UPDATE sweep_trials SET state = ?, objective = ?, message = ?, ended_at = ?"
            " WHERE sweep_id = ? AND number = ? AND ended_at IS NULL",
            (state, objective, message, time.time(), sweep_id, number),
        )
        self._notify()

    def mark_pruned(self, sweep_id: str, number: int, step: int) -> None:
        """The pruner stopped the trial at `step` (its run is being stopped)."""
        self._conn.execute(
            "UPDATE sweep_trials SET pruned_step = ? WHERE sweep_id = ? AND number = ?",
            (step, sweep_id, number),
        )


def _sweep_from_row(row: sqlite3.Row) -> Sweep:
    return Sweep(
        id=row["id"],
        name=row["name"],
        job_version_id=row["job_version_id"],
        job=row["job_ref"],
        queue_id=row["queue_id"],
        queue=row["queue"],
        config=json.loads(row["config"]),
        launch=json.loads(row["launch"]),
        priority=Priority(row["priority"]),
        parallel=row["parallel"],
        seed=row["seed"],
        state=row["state"],
        message=row["message"],
        created_at=row["created_at"],
        ended_at=row["ended_at"],
    )


def _trial_from_row(row: sqlite3.Row) -> Trial:
    values: dict[str, Any] = dict(row)
    return Trial(
        **{
            **values,
            "params": json.loads(values["params"]),
            "suggested": json.loads(values["suggested"]),
        }
    )

"""Launch queues: a name, a target resource type, its default config, pause and concurrency."""

from __future__ import annotations

import json
import sqlite3
import time

from .errors import AlreadyExists, BadInput, NotFound
from .jobs import validate_name
from .records import Queue

_COLUMNS = "id, name, resource, config, paused, max_concurrency, created_at"
MAX_CONCURRENCY_LIMIT = 1_000_000
"""Highest max concurrency a queue accepts (far more runs than one store serves; and a number
SQLite can hold)."""


class QueueStore:
    def __init__(self, conn: sqlite3.Connection, transaction, notify):
        self._conn = conn
        self._transaction = transaction
        self._notify = notify

    def create(
        self, name: str, resource: str, config: dict, max_concurrency: int | None = None
    ) -> Queue:
        validate_name(name, "queue name")
        check_max_concurrency(max_concurrency)
        try:
            queue_id = self._conn.execute(
                "INSERT INTO queues (name, resource, config, max_concurrency, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, resource, json.dumps(config), max_concurrency, time.time()),
            ).lastrowid
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists("queue name", f"a queue named {name!r} already exists") from exc
        self._notify()
        return self._get_by_id(queue_id)

    def get(self, name: str) -> Queue:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM queues WHERE name = ? AND deleted_at IS NULL", (name,)
        ).fetchone()
        if row is None:
            known = [q.name for q in self.list()]
            hint = f"known queues: {', '.join(known)}" if known else "no queues exist yet"
            raise NotFound("queue", f"no queue named {name!r} ({hint})")
        return _queue_from_row(row)

    def _get_by_id(self, queue_id: int) -> Queue:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM queues WHERE id = ?", (queue_id,)
        ).fetchone()
        return _queue_from_row(row)

    def list(self) -> list[Queue]:
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM queues WHERE deleted_at IS NULL ORDER BY name"
        ).fetchall()
        return [_queue_from_row(row) for row in rows]

    def counts(self) -> dict[int, dict[str, int]]:
        """Per queue id: items by state, and live runs under the key `live_runs`."""
        result: dict[int, dict[str, int]] = {}
        for row in self._conn.execute(
            "SELECT queue_id, state, COUNT(*) AS n FROM queue_items GROUP BY queue_id, state"
        ):
            result.setdefault(row["queue_id"], {})[row["state"]] = row["n"]
        for row in self._conn.execute(
            "SELECT queue_id, COUNT(*) AS n FROM runs WHERE ended_at IS NULL GROUP BY queue_id"
        ):
            result.setdefault(row["queue_id"], {})["live_runs"] = row["n"]
        return result

    def set_paused(self, name: str, paused: bool) -> Queue:
        queue = self.get(name)
        self._conn.execute("UPDATE queues SET paused = ? WHERE id = ?", (int(paused), queue.id))
        self._notify()
        return self._get_by_id(queue.id)

    def update(
        self,
        name: str,
        *,
        config: dict | None = None,
        max_concurrency: int | None | type(...) = ...,
    ) -> Queue:
        """Replace the config and/or max concurrency (`...` leaves it as it is), both or
        neither: a bad max concurrency leaves the config unchanged too."""
        if max_concurrency is not ...:
            check_max_concurrency(max_concurrency)
        with self._transaction():
            queue = self.get(name)
            if config is not None:
                self._conn.execute(
                    "UPDATE queues SET config = ? WHERE id = ?", (json.dumps(config), queue.id)
                )
            if max_concurrency is not ...:
                self._conn.execute(
                    "UPDATE queues SET max_concurrency = ? WHERE id = ?",
                    (max_concurrency, queue.id),
                )
        self._notify()
        return self._get_by_id(queue.id)

    def delete(self, name: str) -> None:
        """Delete a queue that has nothing waiting or running. Its finished runs are kept."""
        with self._transaction():
            queue = self.get(name)
            waiting = self._conn.execute(
                "SELECT COUNT(*) FROM queue_items WHERE queue_id = ? AND waiting = 1",
                (queue.id,),
            ).fetchone()[0]
            live = self._conn.execute(
                "SELECT COUNT(*) FROM runs WHERE queue_id = ? AND ended_at IS NULL", (queue.id,)
            ).fetchone()[0]
            if waiting or live:
                raise BadInput(
                    "queue",
                    f"{name!r} has {waiting} waiting item(s) and {live} live run(s);"
                    " cancel them first (launchbay runs cancel ID)",
                )
            self._conn.execute(
                "UPDATE queues SET deleted_at = ? WHERE id = ?", (time.time(), queue.id)
            )


def check_max_concurrency(value: int | None, field: str = "max_concurrency") -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_CONCURRENCY_LIMIT
    ):
        raise BadInput(
            field, f"{value}; expected a whole number from 1 to {MAX_CONCURRENCY_LIMIT:_}"
        )


def _queue_from_row(row: sqlite3.Row) -> Queue:
    return Queue(
        id=row["id"],
        name=row["name"],
        resource=row["resource"],
        config=json.loads(row["config"]),
        paused=bool(row["paused"]),
        max_concurrency=row["max_concurrency"],
        created_at=row["created_at"],
    )

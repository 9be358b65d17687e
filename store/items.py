"""Queue items: FIFO within priority, leased by one agent at a time, claimed exactly once.

Each write here is one conditional statement or one `BEGIN IMMEDIATE` transaction, so that two
agents (threads or processes) sharing the file can never take the same item.
"""

import json
import sqlite3
import time
from collections.abc import Sequence

from .errors import BadInput, NotFound
from .records import Queue, QueueItem
from .states import ItemState, Priority, RunState

DEFAULT_LEASE_SECONDS = 60.0

_ITEM_COLUMNS = """
    i.id, i.queue_id, q.name AS queue, i.job_version_id, i.job_ref, i.priority, i.state,
    i.launch, i.lease_owner, i.lease_expires_at, i.run_id, i.resume_count, i.error_stage,
    i.error_message, i.created_at, i.updated_at, i.attempt, i.retry_of, i.not_before
"""

_RETURNED = """id, queue_id, job_version_id, job_ref, priority, state, launch, lease_owner,
          lease_expires_at, run_id, resume_count, error_stage, error_message, created_at,
          updated_at, attempt, retry_of, not_before"""

# The next pending item of one queue, unless the queue is paused or its live runs already fill
# its max concurrency. One statement: the write lock is taken before the row is chosen, so no
# other agent can choose it too. (Two agents may both lease for the last free slot; the claim,
# which counts again inside its transaction, lets only one of them through.)
_LEASE_NEXT = (
    """
UPDATE queue_items
   SET state = 'leased', lease_owner = :owner, lease_expires_at = :expires, updated_at = :now
 WHERE id = (SELECT id FROM queue_items
              WHERE queue_id = :queue AND waiting = 1 AND state = 'pending'
                AND (not_before IS NULL OR not_before <= :now)
              ORDER BY priority, id LIMIT 1)
   AND (SELECT NOT q.paused
               AND (q.max_concurrency IS NULL
                    OR (SELECT COUNT(*) FROM runs r WHERE r.queue_id = q.id AND r.ended_at IS NULL)
                       < q.max_concurrency)
          FROM queues q WHERE q.id = :queue)
RETURNING """
    + _RETURNED
)


class ItemStore:
    def __init__(self, conn: sqlite3.Connection, transaction, notify):
        self._conn = conn
        self._transaction = transaction
        self._notify = notify

    def enqueue(
        self,
        queue_id: int,
        job_version_id: int,
        job_ref: str,
        launch: dict,
        priority: Priority = Priority.MEDIUM,
        *,
        resume_count: int = 0,
        attempt: int = 1,
        retry_of: int | None = None,
        not_before: float | None = None,
    ) -> int:
        """Append an item to a queue; returns its id. `launch` must already be validated.
        A retry gives its `attempt`, the first attempt's item (`retry_of`) and the time its
        backoff ends (`not_before`)."""
        now = time.time()
        item_id = self._conn.execute(
            "INSERT INTO queue_items (queue_id, job_version_id, job_ref, priority, launch,"
            " resume_count, attempt, retry_of, not_before, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                queue_id,
                job_version_id,
                job_ref,
                int(priority),
                json.dumps(launch),
                resume_count,
                attempt,
                retry_of,
                not_before,
                now,
                now,
            ),
        ).lastrowid
        self._notify()
        return item_id

    def enqueue_again(self, item: QueueItem, queue_id: int, **changes) -> int:
        """`item`'s launch enqueued once more on its queue (a retry, a preemption's requeue),
        linked to the launch's first item; `changes` are enqueue's keyword arguments (the
        attempt, the resume count, the backoff's end)."""
        return self.enqueue(
            queue_id,
            item.job_version_id,
            item.job,
            item.launch,
            item.priority,
            retry_of=item.retry_of or item.id,
            **changes,
        )

    def lease_next(
        self, queue: Queue, owner: str, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> QueueItem | None:
        """Lease the next dispatchable item of `queue` to `owner`, or None."""
        now = time.time()
        row = self._conn.execute(
            _LEASE_NEXT,
            {"owner": owner, "expires": now + lease_seconds, "now": now, "queue": queue.id},
        ).fetchone()
        if row is None:
            return None
        return _item_from_row(row, queue.name)

    def lease_item(
        self, queue: Queue, item_id: int, owner: str, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> QueueItem | None:
        """Lease one given pending item of `queue` (a later item that backfill starts ahead of
        the head), or None if it is no longer pending."""
        now = time.time()
        row = self._conn.execute(
            "UPDATE queue_items SET state = 'leased', lease_owner = ?, lease_expires_at = ?,"
            " updated_at = ? WHERE id = ? AND queue_id = ? AND waiting = 1 AND state = 'pending'"
            f" RETURNING {_RETURNED}",
            (owner, now + lease_seconds, now, item_id, queue.id),
        ).fetchone()
        return None if row is None else _item_from_row(row, queue.name)

    def unlease(self, item_id: int, owner: str) -> None:
        """Give back a leased item that can't start yet (its GPUs are busy): pending again, at
        its place in line."""
        self._release("id = ? AND state = 'leased' AND lease_owner = ?", (item_id, owner))

    def ack(self, item_id: int, owner: str, run_id: str | None = None) -> bool:
        """Mark a leased item claimed. False if the lease was lost (cancelled or expired)."""
        cursor = self._conn.execute(
            "UPDATE queue_items SET state = 'claimed', waiting = NULL, run_id = ?,"
            " lease_owner = NULL,"
            " lease_expires_at = NULL, updated_at = ?"
            " WHERE id = ? AND state = 'leased' AND lease_owner = ?",
            (run_id, time.time(), item_id, owner),
        )
        return cursor.rowcount == 1

    def claim_with_run(
        self,
        item: QueueItem,
        owner: str,
        run_id: str,
        resource: str,
        spec: dict,
        gpus: Sequence[tuple[str, int]] = (),
        time_limit: float | None = None,
    ) -> bool:
        """Atomically mark a leased item claimed, create its run (state starting) and give it
        `gpus` (device key, index), until its `time_limit` (seconds from now) ends, if it has one.

        False if the lease was lost, if the queue's max concurrency is full by now, or if
        another run holds one of `gpus` by now: the item then goes back to pending, at its
        place in line."""
        try:
            return self._claim(item, owner, run_id, resource, spec, gpus, time_limit)
        except sqlite3.IntegrityError as exc:
            if "gpu_allocations" not in str(exc):
                raise
            # Rolled back: another agent gave one of these devices away since we looked.
            self._release("id = ? AND state = 'leased' AND lease_owner = ?", (item.id, owner))
            return False

    def _claim(self, item, owner, run_id, resource, spec, gpus, time_limit) -> bool:
        now = time.time()
        with self._transaction():
            if self._concurrency_full(item.queue_id):
                self._release("id = ? AND state = 'leased' AND lease_owner = ?", (item.id, owner))
                return False
            if not self.ack(item.id, owner, run_id):
                return False
            self._conn.execute(
                "INSERT INTO runs (id, item_id, job_version_id, job_ref, queue_id, resource,"
                " spec, state, agent_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    item.id,
                    item.job_version_id,
                    item.job,
                    item.queue_id,
                    resource,
                    json.dumps(spec),
                    RunState.STARTING.value,
                    owner,
                    now,
                ),
            )
            self._conn.execute(
                "INSERT INTO run_events (run_id, at, from_state, to_state, message)"
                " VALUES (?, ?, NULL, ?, ?)",
                (run_id, now, RunState.STARTING.value, f"claimed item {item.id}"),
            )
            self._conn.executemany(
                "INSERT INTO gpu_allocations (run_id, device, device_index, allocated_at, ends_by)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (run_id, key, index, now, None if time_limit is None else now + time_limit)
                    for key, index in gpus
                ],
            )
        return True

    def _concurrency_full(self, queue_id: int) -> bool:
        row = self._conn.execute(
            "SELECT q.max_concurrency,"
            " (SELECT COUNT(*) FROM runs r WHERE r.queue_id = q.id AND r.ended_at IS NULL)"
            " FROM queues q WHERE q.id = ?",
            (queue_id,),
        ).fetchone()
        return row[0] is not None and row[1] >= row[0]

    def fail(self, item_id: int, stage: str, message: str) -> None:
        """Record a failure on an item that has not ended yet (leased, or claimed with a run)."""
        self._conn.execute(
            "UPDATE queue_items SET state = 'failed', waiting = NULL, error_stage = ?,"
            " error_message = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?"
            " WHERE id = ? AND state IN ('leased', 'claimed')",
            (stage, message, time.time(), item_id),
        )

    def requeue_unstarted(self, item_id: int, run_id: str) -> bool:
        """Put back in line, at its old place, an item whose run `run_id` never started (its
        agent died between claim and start, and the runner has made sure it never will)."""
        cursor = self._conn.execute(
            "UPDATE queue_items SET state = 'pending', waiting = 1, run_id = NULL,"
            " error_stage = NULL, error_message = NULL, lease_owner = NULL,"
            " lease_expires_at = NULL, updated_at = ?"
            " WHERE id = ? AND run_id = ? AND state IN ('claimed', 'failed')",
            (time.time(), item_id, run_id),
        )
        if cursor.rowcount:
            self._notify()
        return cursor.rowcount == 1

    def cancel(self, item_id: int) -> QueueItem:
        """Cancel a pending or leased item. Raises if it has moved on (claimed or ended)."""
        cursor = self._conn.execute(
            "UPDATE queue_items SET state = 'cancelled', waiting = NULL, lease_owner = NULL,"
            " lease_expires_at = NULL, updated_at = ?"
            " WHERE id = ? AND state IN ('pending', 'leased')",
            (time.time(), item_id),
        )
        item = self.get(item_id)
        if cursor.rowcount != 1:
            raise BadInput(
                "item",
                f"item {item_id} is {item.state.value}; only pending or"
                " leased items can be cancelled",
            )
        self._notify()
        return item

    def set_priority(self, item_id: int, priority: Priority) -> QueueItem:
        cursor = self._conn.execute(
            "UPDATE queue_items SET priority = ?, updated_at = ?"
            " WHERE id = ? AND state = 'pending'",
            (int(priority), time.time(), item_id),
        )
        item = self.get(item_id)
        if cursor.rowcount != 1:
            raise BadInput(
                "item",
                f"item {item_id} is {item.state.value}; only pending items can change priority",
            )
        self._notify()
        return item

    def release_expired_leases(self) -> int:
        """Expired leases go back to pending; ordering by (priority, id) keeps their place."""
        return self._release(
            "waiting = 1 AND state = 'leased' AND lease_expires_at < ?", (time.time(),)
        )

    def release_leases_of(self, owners: list[str]) -> int:
        """Leases held by agents known to be dead go back to pending at once."""
        if not owners:
            return 0
        marks = ",".join("?" * len(owners))
        return self._release(
            f"waiting = 1 AND state = 'leased' AND lease_owner IN ({marks})", tuple(owners)
        )

    def _release(self, where: str, params: tuple) -> int:
        cursor = self._conn.execute(
            "UPDATE queue_items SET state = 'pending', lease_owner = NULL,"
            f" lease_expires_at = NULL, updated_at = ? WHERE {where}",
            (time.time(), *params),
        )
        if cursor.rowcount:
            self._notify()
        return cursor.rowcount

    def get(self, item_id: int) -> QueueItem:
        row = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM queue_items i JOIN queues q ON q.id = i.queue_id"
            " WHERE i.id = ?",
            (item_id,),
        ).fetchone()
        if row is None:
            raise NotFound("item", f"no queue item with id {item_id}")
        return _item_from_row(row, row["queue"])

    def waiting(self, queue_id: int) -> list[QueueItem]:
        """Pending and leased items of a queue, in dispatch order."""
        rows = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM queue_items i JOIN queues q ON q.id = i.queue_id"
            " WHERE i.queue_id = ? AND i.waiting = 1"
            " ORDER BY i.state = 'pending', i.priority, i.id",
            (queue_id,),
        ).fetchall()
        return [_item_from_row(row, row["queue"]) for row in rows]

    def next_backoff_end(self, queue_ids: list[int]) -> float | None:
        """The earliest time (unix) a waiting retry of these queues ends its backoff, if any."""
        marks = ",".join("?" * len(queue_ids))
        return self._conn.execute(
            f"SELECT MIN(not_before) FROM queue_items WHERE queue_id IN ({marks})"
            " AND waiting = 1 AND state = 'pending' AND not_before > ?",
            (*queue_ids, time.time()),
        ).fetchone()[0]

    def attempts(self, item_id: int) -> list[QueueItem]:
        """Every item of the launch `item_id` belongs to (its retries, and its requeues after a
        preemption), first to last."""
        first = self._conn.execute(
            "SELECT COALESCE(retry_of, id) FROM queue_items WHERE id = ?", (item_id,)
        ).fetchone()
        if first is None:
            raise NotFound("item", f"no queue item with id {item_id}")
        rows = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM queue_items i JOIN queues q ON q.id = i.queue_id"
            " WHERE i.id = ? OR i.retry_of = ? ORDER BY i.attempt, i.id",
            (first[0], first[0]),
        ).fetchall()
        return [_item_from_row(row, row["queue"]) for row in rows]

    def any_pending(self, queue_ids: list[int]) -> bool:
        marks = ",".join("?" * len(queue_ids))
        query = (
            "SELECT EXISTS (SELECT 1 FROM queue_items"
            f" WHERE queue_id IN ({marks}) AND waiting = 1 AND state = 'pending')"
        )
        return bool(self._conn.execute(query, tuple(queue_ids)).fetchone()[0])


def _item_from_row(row: sqlite3.Row, queue_name: str) -> QueueItem:
    return QueueItem(
        id=row["id"],
        queue_id=row["queue_id"],
        queue=queue_name,
        job_version_id=row["job_version_id"],
        job=row["job_ref"],
        priority=Priority(row["priority"]),
        state=ItemState(row["state"]),
        launch_json=row["launch"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        run_id=row["run_id"],
        resume_count=row["resume_count"],
        error_stage=row["error_stage"],
        error_message=row["error_message"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        attempt=row["attempt"],
        retry_of=row["retry_of"],
        not_before=row["not_before"],
    )

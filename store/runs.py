"""Runs: one state machine (see states.py), every transition an event row."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time

from .errors import BadInput, IllegalTransition, NotFound
from .records import Run, RunEvent, loads
from .states import RunState

# Typeable ids: no 0/o, 1/l/i; a letter first, so a run id never looks like an item number.
_FIRST = "abcdefghjkmnpqrstuvwxyz"
_REST = "23456789abcdefghjkmnpqrstuvwxyz"
RUN_ID_LENGTH = 8
# A tag is one word a filter can name (`tag:x`): no spaces, no comma (`tag:a,b` is two tags).
_TAG = re.compile(r"[^\s,]{1,64}")
NOTE_MAX_CHARS = 10_000


def new_run_id() -> str:
    return secrets.choice(_FIRST) + "".join(secrets.choice(_REST) for _ in range(RUN_ID_LENGTH - 1))


_RUN_COLUMNS = """
    r.id, r.item_id, r.job_version_id, r.job_ref, r.queue_id, q.name AS queue, r.resource,
    r.spec, r.state, r.agent_id, r.handle, r.message, r.exit_code, r.error_stage,
    r.error_message, r.stop_requested_at, r.created_at, r.started_at, r.ended_at,
    (SELECT group_concat(g.device_index) FROM gpu_allocations g WHERE g.run_id = r.id) AS gpus,
    (SELECT group_concat(t.tag, char(10)) FROM run_tags t WHERE t.run_id = r.id) AS tags,
    (SELECT n.note FROM run_notes n WHERE n.run_id = r.id) AS note
"""
_RUN_FROM = "runs r JOIN queues q ON q.id = r.queue_id"


class RunStore:
    def __init__(self, conn: sqlite3.Connection, transaction, notify):
        self._conn = conn
        self._transaction = transaction
        self._notify = notify

    def get(self, run_id: str) -> Run:
        row = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM {_RUN_FROM} WHERE r.id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise NotFound("run", f"no run with id {run_id!r}")
        return _run_from_row(row)

    def find(self, text: str) -> Run:
        """The run whose id is `text`, or the one run whose id starts with it (what a user
        types: `kj3` for `kj3x9mf2`). NotFound names the runs a prefix is ambiguous between."""
        try:
            return self.get(text)
        except NotFound:
            if not text:
                raise
        # A range of the primary key, not LIKE (case-blind, so it can't use the index): every
        # id that starts with `text` sorts between it and it + the highest code point.
        ids = [
            row[0]
            for row in self._conn.execute(
                "SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
                (text, text + "\U0010ffff"),
            )
        ]
        if len(ids) == 1:
            return self.get(ids[0])
        if not ids:
            raise NotFound("run", f"no run with id or id prefix {text!r}")
        shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
        raise NotFound("run", f"run id prefix {text!r} is ambiguous: {shown}; type more of it")

    def list(
        self,
        *,
        queue_id: int | None = None,
        states: list[str] | None = None,
        agent_id: str | None = None,
        live_only: bool = False,
        limit: int | None = None,
    ) -> list[Run]:
        """Runs newest first, optionally filtered."""
        where, params = [], []
        if queue_id is not None:
            where.append("r.queue_id = ?")
            params.append(queue_id)
        if states:
            where.append(f"r.state IN ({','.join('?' * len(states))})")
            params.extend(states)
        if agent_id is not None:
            where.append("r.agent_id = ?")
            params.append(agent_id)
        if live_only:
            where.append("r.ended_at IS NULL")
        sql = f"SELECT {_RUN_COLUMNS} FROM {_RUN_FROM}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.created_at DESC, r.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_run_from_row(row) for row in self._conn.execute(sql, params)]

    def events(self, run_id: str) -> list[RunEvent]:
        rows = self._conn.execute(
            "SELECT at, from_state, to_state, message FROM run_events WHERE run_id = ? ORDER BY id",
            (run_id,),
        ).fetchall()
        return [RunEvent(r["at"], r["from_state"], r["to_state"], r["message"]) for r in rows]

    def transition(
        self,
        run_id: str,
        to: RunState,
        message: str | None = None,
        *,
        exit_code: int | None = None,
        error_stage: str | None = None,
        error_message: str | None = None,
        handle: dict | None = None,
        ended_at: float | None = None,
    ) -> Run:
        """Move a run to `to`, recording an event. Terminal states are final and stamp ended_at:
        `ended_at` when the target knows when the run really ended (never later than now).

        A run that fails or crashes also fails its queue item, with the same stage and message.
        `handle`, when given, is recorded in the same transaction (submit → running).
        """
        to = RunState(to)
        now = time.time()
        ended = now if ended_at is None or not to.is_terminal() else min(ended_at, now)
        with self._transaction():
            row = self._conn.execute(
                "SELECT state, item_id FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise NotFound("run", f"no run with id {run_id!r}")
            current = RunState(row["state"])
            if not current.can_become(to):
                raise IllegalTransition(
                    f"run {run_id} is {current.value}; it cannot become {to.value}"
                )
            self._conn.execute(
                "UPDATE runs SET state = ?, message = COALESCE(?, message),"
                " exit_code = COALESCE(?, exit_code), error_stage = COALESCE(?, error_stage),"
                " error_message = COALESCE(?, error_message), handle = COALESCE(?, handle),"
                " started_at = CASE WHEN ? AND started_at IS NULL THEN ? ELSE started_at END,"
                # Never before it started: a quick job may end before its start is recorded.
                " ended_at = CASE WHEN ? THEN MAX(?, COALESCE(started_at, 0)) ELSE ended_at END"
                " WHERE id = ?",
                (
                    to.value,
                    message,
                    exit_code,
                    error_stage,
                    error_message,
                    None if handle is None else json.dumps(handle),
                    to is RunState.RUNNING,
                    now,
                    to.is_terminal(),
                    ended,
                    run_id,
                ),
            )
            self._conn.execute(
                "INSERT INTO run_events (run_id, at, from_state, to_state, message)"
                " VALUES (?, ?, ?, ?, ?)",
                (run_id, ended, current.value, to.value, message),
            )
            if to in (RunState.FAILED, RunState.CRASHED):
                self._conn.execute(
                    "UPDATE queue_items SET state = 'failed', error_stage = ?, error_message = ?,"
                    " updated_at = ? WHERE id = ? AND state = 'claimed'",
                    (error_stage or "run", error_message or message, now, row["item_id"]),
                )
        self._notify()
        return self.get(run_id)

    def set_handle(self, run_id: str, handle: dict) -> None:
        """Record how the runner finds this run again (pid and start time, container id…)."""
        self._conn.execute("UPDATE runs SET handle = ? WHERE id = ?", (json.dumps(handle), run_id))

    def take_over(self, run_id: str, new_owner: str, old_owner: str | None) -> bool:
        """An agent adopts the run of an agent that died; False if another agent got it first."""
        cursor = self._conn.execute(
            "UPDATE runs SET agent_id = ? WHERE id = ? AND agent_id IS ?",
            (new_owner, run_id, old_owner),
        )
        return cursor.rowcount == 1

    def set_message(self, run_id: str, message: str) -> None:
        """A status line from the runner that is not a state change (a warning, a phase)."""
        self._conn.execute("UPDATE runs SET message = ? WHERE id = ?", (message, run_id))
        self._notify()

    def request_stop(self, run_id: str, message: str = "stop requested") -> Run:
        """Ask the agent that owns a live run to stop it: the run becomes `stopping`."""
        with self._transaction():
            run = self.get(run_id)
            if run.state.is_terminal():
                raise IllegalTransition(f"run {run_id} already ended ({run.state.value})")
            self._conn.execute(
                "UPDATE runs SET stop_requested_at = COALESCE(stop_requested_at, ?) WHERE id = ?",
                (time.time(), run_id),
            )
            if run.state is not RunState.STOPPING:
                self.transition(run_id, RunState.STOPPING, message)
        self._notify()
        return self.get(run_id)

    def tag(self, run_id: str, add: list[str] = (), remove: list[str] = ()) -> Run:
        """Add and remove tags of a run (adding one it has, or removing one it lacks, is no
        change). Every tag is checked before anything is written."""
        for tag in [*add, *remove]:
            if not _TAG.fullmatch(tag) or not tag.isprintable():
                raise BadInput(
                    "tag",
                    f"{tag!r} is not a tag; expected 1 to 64 printable characters,"
                    " no spaces or commas",
                )
        with self._transaction():
            self.get(run_id)
            self._conn.executemany(
                "INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (?, ?)",
                [(run_id, tag) for tag in add],
            )
            self._conn.executemany(
                "DELETE FROM run_tags WHERE run_id = ? AND tag = ?",
                [(run_id, tag) for tag in remove],
            )
        self._notify()
        return self.get(run_id)

    def set_note(self, run_id: str, note: str) -> Run:
        """Set a run's note; an empty (or blank) note removes it."""
        if len(note) > NOTE_MAX_CHARS:
            raise BadInput("note", f"{len(note)} characters; expected at most {NOTE_MAX_CHARS}")
        with self._transaction():
            self.get(run_id)
            if note.strip():
                self._conn.execute(
                    "INSERT INTO run_notes (run_id, note, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (run_id) DO UPDATE SET note = excluded.note,"
                    " updated_at = excluded.updated_at",
                    (run_id, note, time.time()),
                )
            else:
                self._conn.execute("DELETE FROM run_notes WHERE run_id = ?", (run_id,))
        self._notify()
        return self.get(run_id)

    def add_note(self, run_id: str, message: str) -> None:
        """An event that is no transition (from and to the run's state): news about the run
        after the fact, e.g. a notification that could not be sent."""
        self._conn.execute(
            "INSERT INTO run_events (run_id, at, from_state, to_state, message)"
            " SELECT id, ?, state, state, ? FROM runs WHERE id = ?",
            (time.time(), message, run_id),
        )
        self._notify()

    def last_event_id(self) -> int:
        """The newest event's id (0 for none): where to start looking for news."""
        return self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM run_events").fetchone()[0]

    def ended_after(self, event_id: int, limit: int = 50) -> tuple[int, list[Run]]:
        """Runs that ended in an event after `event_id`, in order, and the last event id seen
        (a rowid range: as cheap with a million runs as with none)."""
        terminal = [state.value for state in RunState if state.is_terminal()]
        rows = self._conn.execute(
            "SELECT id, run_id FROM run_events WHERE id > ? AND from_state IS NOT to_state"
            f" AND to_state IN ({','.join('?' * len(terminal))}) ORDER BY id LIMIT ?",
            (event_id, *terminal, limit),
        ).fetchall()
        if not rows:
            return event_id, []
        ids = list(dict.fromkeys(row["run_id"] for row in rows))
        found = {
            run.id: run
            for run in map(
                _run_from_row,
                self._conn.execute(
                    f"SELECT {_RUN_COLUMNS} FROM {_RUN_FROM}"
                    f" WHERE r.id IN ({','.join('?' * len(ids))})",
                    ids,
                ),
            )
        }
        return rows[-1]["id"], [found[row["run_id"]] for row in rows]

    def find_for_item(self, item_id: int) -> Run | None:
        row = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM {_RUN_FROM} WHERE r.item_id = ?"
            " ORDER BY r.created_at DESC LIMIT 1",
            (item_id,),
        ).fetchone()
        return None if row is None else _run_from_row(row)


def _run_from_row(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        item_id=row["item_id"],
        job_version_id=row["job_version_id"],
        job=row["job_ref"],
        queue_id=row["queue_id"],
        queue=row["queue"],
        resource=row["resource"],
        spec=json.loads(row["spec"]),
        state=RunState(row["state"]),
        agent_id=row["agent_id"],
        handle=loads(row["handle"]),
        message=row["message"],
        exit_code=row["exit_code"],
        error_stage=row["error_stage"],
        error_message=row["error_message"],
        stop_requested_at=row["stop_requested_at"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        gpus=tuple(sorted(int(i) for i in row["gpus"].split(","))) if row["gpus"] else (),
        tags=tuple(sorted(row["tags"].split("\n"))) if row["tags"] else (),
        note=row["note"],
    )

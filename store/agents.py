"""Agents that serve queues: who they are, so a restarted agent can tell a dead one's work."""

import json
import sqlite3
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class AgentRecord:
    id: str
    hostname: str
    pid: int
    pid_start_time: int | None
    queues: list[str]
    max_jobs: int
    started_at: float
    heartbeat_at: float
    stopped_at: float | None
    last_error: str | None


class AgentStore:
    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def register(
        self,
        agent_id: str,
        *,
        hostname: str,
        pid: int,
        pid_start_time: int | None,
        queues: list[str],
        max_jobs: int,
    ) -> None:
        now = time.time()
        self._conn.execute(
            "INSERT INTO agents (id, hostname, pid, pid_start_time, queues, max_jobs, started_at,"
            " heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (agent_id, hostname, pid, pid_start_time, json.dumps(queues), max_jobs, now, now),
        )

    def heartbeat(self, agent_id: str) -> None:
        self._conn.execute(
            "UPDATE agents SET heartbeat_at = ? WHERE id = ?", (time.time(), agent_id)
        )

    def record_error(self, agent_id: str, message: str) -> None:
        self._conn.execute("UPDATE agents SET last_error = ? WHERE id = ?", (message, agent_id))

    def mark_stopped(self, agent_id: str) -> None:
        self._conn.execute(
            "UPDATE agents SET stopped_at = ? WHERE id = ? AND stopped_at IS NULL",
            (time.time(), agent_id),
        )

    def not_stopped(self) -> list[AgentRecord]:
        """Agents that never said they stopped: running now, or crashed."""
        rows = self._conn.execute(
            "SELECT * FROM agents WHERE stopped_at IS NULL ORDER BY started_at"
        ).fetchall()
        return [_agent_from_row(row) for row in rows]

    def get(self, agent_id: str) -> AgentRecord | None:
        row = self._conn.execute("SELECT * FROM agents WHERE id = ?", (agent_id,)).fetchone()
        return None if row is None else _agent_from_row(row)


def _agent_from_row(row: sqlite3.Row) -> AgentRecord:
    return AgentRecord(
        id=row["id"],
        hostname=row["hostname"],
        pid=row["pid"],
        pid_start_time=row["pid_start_time"],
        queues=json.loads(row["queues"]),
        max_jobs=row["max_jobs"],
        started_at=row["started_at"],
        heartbeat_at=row["heartbeat_at"],
        stopped_at=row["stopped_at"],
        last_error=row["last_error"],
    )

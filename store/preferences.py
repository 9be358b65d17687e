"""Small settings the app remembers per store (the runs table's summary columns and sort)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


class PreferenceStore:
    def __init__(self, conn: sqlite3.Connection, transaction):
        self._conn = conn
        self._transaction = transaction

    def get(self, name: str, default: Any = None) -> Any:
        """The value saved under `name`, or `default`. A value that is no longer JSON (edited
        by hand) reads as `default`: a preference never stops the app."""
        row = self._conn.execute("SELECT value FROM preferences WHERE name = ?", (name,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except ValueError:
            return default

    def put(self, name: str, value: Any) -> None:
        """Save `value` (anything JSON can hold) under `name`, replacing what was there."""
        with self._transaction():
            self._conn.execute(
                "INSERT INTO preferences (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, json.dumps(value)),
            )

"""Jobs: named, versioned definitions of work (v0, v1, …) with aliases; `latest` is the newest."""

import hashlib
import json
import re
import sqlite3
import time
from dataclasses import dataclass

from .errors import BadInput, NotFound
from .records import JobVersion, loads

JOB_TYPES = ("image", "code", "git")
# Used with fullmatch: `$` would also match before a trailing newline ("nl\n").
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
ALIAS_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
VERSION_ALIAS = re.compile(r"v([0-9]+)")
SQLITE_MAX_INTEGER = 2**63 - 1
LATEST = "latest"

_VERSION_COLUMNS = """
    v.id, v.job_id, j.name, v.version, v.type, v.digest, v.source, v.entrypoint,
    v.input_schema, j.description, v.created_at
"""


def validate_name(name: str, field: str = "name") -> None:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise BadInput(field, f"{name!r} is not a valid name; expected 1-64 of A-Z a-z 0-9 _ . -")


def validate_alias(alias: str) -> None:
    if (
        not isinstance(alias, str)
        or not ALIAS_PATTERN.fullmatch(alias)
        or VERSION_ALIAS.fullmatch(alias)
        or alias == LATEST
    ):
        raise BadInput(
            "--alias", f"{alias!r}; expected 1-64 of A-Z a-z 0-9 _ . -, other than 'latest' or vN"
        )


def content_digest(
    type_: str, source: dict, entrypoint: list[str] | None, input_schema: dict | None
) -> str:
    """sha256 of what the job runs: a new version is made only when this changes."""
    canonical = json.dumps(
        {"type": type_, "source": source, "entrypoint": entrypoint, "input_schema": input_schema},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedVersion:
    version: JobVersion
    created: bool  # False: the content matched an existing version, nothing was added


class JobStore:
    def __init__(self, conn: sqlite3.Connection, transaction):
        self._conn = conn
        self._transaction = transaction

    def create_version(
        self,
        name: str,
        type_: str,
        source: dict,
        *,
        entrypoint: list[str] | None = None,
        input_schema: dict | None = None,
        description: str | None = None,
        aliases: tuple[str, ...] = (),
    ) -> CreatedVersion:
        """Add a version of job `name` unless the same content is already a version of it."""
        validate_name(name, "job name")
        if type_ not in JOB_TYPES:
            raise BadInput("job type", f"{type_!r}; expected one of {', '.join(JOB_TYPES)}")
        for alias in aliases:
            validate_alias(alias)
        digest = content_digest(type_, source, entrypoint, input_schema)
        now = time.time()
        with self._transaction():
            row = self._conn.execute("SELECT id FROM jobs WHERE name = ?", (name,)).fetchone()
            if row is None:
                job_id = self._conn.execute(
                    "INSERT INTO jobs (name, description, created_at) VALUES (?, ?, ?)",
                    (name, description or "", now),
                ).lastrowid
            else:
                job_id = row["id"]
                if description is not None:
                    self._conn.execute(
                        "UPDATE jobs SET description = ? WHERE id = ?", (description, job_id)
                    )
            same = self._conn.execute(
                "SELECT id FROM job_versions WHERE job_id = ? AND digest = ?", (job_id, digest)
            ).fetchone()
            created = same is None
            if created:
                next_version = self._conn.execute(
                    "SELECT COALESCE(MAX(version) + 1, 0) FROM job_versions WHERE job_id = ?",
                    (job_id,),
                ).fetchone()[0]
                version_id = self._conn.execute(
                    "INSERT INTO job_versions (job_id, version, type, digest, source, entrypoint,"
                    " input_schema, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        job_id,
                        next_version,
                        type_,
                        digest,
                        json.dumps(source),
                        _dumps_or_none(entrypoint),
                        _dumps_or_none(input_schema),
                        now,
                    ),
                ).lastrowid
                self._set_alias(job_id, LATEST, version_id)
            else:
                version_id = same["id"]
            for alias in aliases:
                self._set_alias(job_id, alias, version_id)
        return CreatedVersion(self.get_version(version_id), created)

    def _set_alias(self, job_id: int, alias: str, version_id: int) -> None:
        self._conn.execute(
            "INSERT INTO job_aliases (job_id, alias, version_id) VALUES (?, ?, ?)"
            " ON CONFLICT (job_id, alias) DO UPDATE SET version_id = excluded.version_id",
            (job_id, alias, version_id),
        )

    def get_version(self, version_id: int) -> JobVersion:
        row = self._conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM job_versions v JOIN jobs j ON j.id = v.job_id"
            " WHERE v.id = ?",
            (version_id,),
        ).fetchone()
        if row is None:
            raise NotFound("job version", f"no job version with id {version_id}")
        return self._version_from_row(row)

    def resolve(self, ref: str) -> JobVersion:
        """`NAME` (latest), `NAME:vN` or `NAME:ALIAS` → the job version."""
        name, _, selector = (ref or "").partition(":")
        job = self._conn.execute("SELECT id FROM jobs WHERE name = ?", (name,)).fetchone()
        if job is None:
            known = [r[0] for r in self._conn.execute("SELECT name FROM jobs ORDER BY name")]
            hint = f"known jobs: {', '.join(known)}" if known else "no jobs exist yet"
            raise NotFound("job", f"no job named {name!r} ({hint})")
        selector = selector or LATEST
        if match := VERSION_ALIAS.fullmatch(selector):
            number = int(match.group(1))
            row = None
            if number <= SQLITE_MAX_INTEGER:  # a larger one is no version, and no SQLite int
                row = self._conn.execute(
                    "SELECT id FROM job_versions WHERE job_id = ? AND version = ?",
                    (job["id"], number),
                ).fetchone()
            if row is None:
                count = self._version_count(job["id"])
                raise NotFound("job version", f"{ref!r}: {name} has versions v0..v{count - 1}")
        else:
            row = self._conn.execute(
                "SELECT version_id AS id FROM job_aliases WHERE job_id = ? AND alias = ?",
                (job["id"], selector),
            ).fetchone()
            if row is None:
                aliases = [
                    r[0]
                    for r in self._conn.execute(
                        "SELECT alias FROM job_aliases WHERE job_id = ? ORDER BY alias",
                        (job["id"],),
                    )
                ]
                raise NotFound("job alias", f"{ref!r}: {name} has aliases {', '.join(aliases)}")
        return self.get_version(row["id"])

    def _version_count(self, job_id: int) -> int:
        return self._conn.execute(
            "SELECT COUNT(*) FROM job_versions WHERE job_id = ?", (job_id,)
        ).fetchone()[0]

    def versions(self, name: str) -> list[JobVersion]:
        """Every version of job `name`, newest first."""
        self.resolve(name)  # raises NotFound with the known names
        rows = self._conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM job_versions v JOIN jobs j ON j.id = v.job_id"
            " WHERE j.name = ? ORDER BY v.version DESC",
            (name,),
        ).fetchall()
        return [self._version_from_row(row) for row in rows]

    def list_latest(self) -> list[tuple[JobVersion, int]]:
        """Each job's latest version with its number of versions, by name."""
        rows = self._conn.execute(
            f"SELECT {_VERSION_COLUMNS},"
            " (SELECT COUNT(*) FROM job_versions c WHERE c.job_id = j.id) AS version_count"
            " FROM jobs j JOIN job_aliases a ON a.job_id = j.id AND a.alias = 'latest'"
            " JOIN job_versions v ON v.id = a.version_id ORDER BY j.name"
        ).fetchall()
        return [(self._version_from_row(row), row["version_count"]) for row in rows]

    def _version_from_row(self, row: sqlite3.Row) -> JobVersion:
        aliases = tuple(
            r[0]
            for r in self._conn.execute(
                "SELECT alias FROM job_aliases WHERE version_id = ? ORDER BY alias != 'latest',"
                " alias",
                (row["id"],),
            )
        )
        return JobVersion(
            id=row["id"],
            job_id=row["job_id"],
            name=row["name"],
            version=row["version"],
            type=row["type"],
            digest=row["digest"],
            source=json.loads(row["source"]),
            entrypoint=loads(row["entrypoint"]),
            input_schema=loads(row["input_schema"]),
            description=row["description"],
            created_at=row["created_at"],
            aliases=aliases,
        )


def _dumps_or_none(value) -> str | None:
    return None if value is None else json.dumps(value)

"""Bad input, checked as the project's rule says: exit code 2, one error line naming the field
and what was expected, and the store (every row, every file beside it) unchanged."""

import sqlite3
from pathlib import Path

ERROR_PREFIX = "launchbay: error: "


def snapshot(db: Path) -> tuple:
    """Every row of every table (and the schema version), read through a separate connection,
    plus what lies in the files folder beside the database."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        dump = list(conn.iterdump())
        user_version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    files_dir = db.with_name(db.name + ".files")
    files = sorted(
        (str(p.relative_to(files_dir)), p.stat().st_size if p.is_file() else None)
        for p in files_dir.rglob("*")
    )
    return dump, user_version, files


def assert_bad_input(result, *fragments: str) -> str:
    """Exit 2, and stderr is exactly one error line that contains each fragment."""
    assert result.code == 2, (result.code, result.out, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    line = lines[0]
    assert line.startswith(ERROR_PREFIX) and line[len(ERROR_PREFIX) :].strip(), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def refusal_checker(cli, db: Path):
    """A function that runs the CLI, checks it refused with one line naming `fragments`, and
    that the store (rows and files) is unchanged."""

    def run(args, *fragments: str) -> str:
        before = snapshot(db)
        line = assert_bad_input(cli(*args), *fragments)
        assert snapshot(db) == before
        return line

    return run

"""The database file and the folder beside it: how they are created, opened and found, and that
the headless core loads no UI toolkit and no cloud SDK."""

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from kit import REPO, clean_env, launch, make_code_job, make_queue, run_agent

from store import RunState, Store
from store.connection import BUSY_TIMEOUT_MS
from store.paths import resolve_db_path

# Not plain `google.cloud`: aiplatform's *-nspkg.pth file imports that (empty) namespace
# package at every interpreter start, whatever launchbay does.
HEAVY_MODULES = (
    "textual",
    "docker",
    "kubernetes",
    "boto3",
    "google.cloud.aiplatform",
    "google.cloud.aiplatform_v1",
)


def run_python(code: str, *, env: dict | None = None, cwd: Path = REPO) -> str:
    """Run `code` in a fresh interpreter; returns its stdout (fails the test on an error)."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=clean_env() if env is None else env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# -- the file ---------------------------------------------------------------------------------


def test_database_file_is_created_private(tmp_path):
    path = tmp_path / "new" / "dir" / "lb.db"
    Store.open(path).close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"


def test_connection_uses_wal_foreign_keys_and_a_busy_timeout(store, db_path):
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS > 0

    # WAL is a property of the file: another plain connection sees it too.
    other = sqlite3.connect(db_path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()

    # Foreign keys are enforced, not just switched on.
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO job_versions (job_id, version, type, digest, source, created_at)"
            " VALUES (999, 0, 'image', 'x', '{}', 0)"
        )


def test_store_open_resolves_explicit_path_then_env_then_user_data_dir(tmp_path, monkeypatch):
    explicit, from_env = tmp_path / "explicit.db", tmp_path / "env.db"
    data_home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    monkeypatch.setenv("LAUNCHBAY_DB", str(from_env))

    assert resolve_db_path(explicit) == explicit
    assert resolve_db_path(None) == from_env
    monkeypatch.delenv("LAUNCHBAY_DB")
    default = data_home / "launchbay" / "launchbay.db"
    assert resolve_db_path(None) == default

    store = Store.open()
    try:
        assert store.path == default
        assert store.files_dir == data_home / "launchbay" / "launchbay.db.files"
    finally:
        store.close()
    assert default.stat().st_mode & 0o777 == 0o600


def test_default_path_comes_from_platformdirs(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.delenv("LAUNCHBAY_DB", raising=False)
    seen = []

    def user_data_dir(appname, appauthor=None, *args, **kwargs):
        seen.append((appname, appauthor))
        return str(tmp_path / "pd")

    monkeypatch.setattr(platformdirs, "user_data_dir", user_data_dir)
    assert resolve_db_path(None) == tmp_path / "pd" / "launchbay.db"
    assert seen == [("launchbay", False)]


def test_cli_db_option_beats_env_and_the_command_option_beats_the_group_one(tmp_path, monkeypatch):
    from tui.cli import main

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    from_env, group, command = tmp_path / "env.db", tmp_path / "group.db", tmp_path / "cmd.db"
    monkeypatch.setenv("LAUNCHBAY_DB", str(from_env))

    def run(*args: str) -> int:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        return exit_info.value.code

    assert run("--db", str(group), "queue", "list") == 0
    assert group.exists() and not from_env.exists()

    assert run("--db", str(group), "queue", "list", "--db", str(command)) == 0
    assert command.exists()

    assert run("queue", "list") == 0
    assert from_env.exists()
    assert not (tmp_path / "xdg-data").exists()

    monkeypatch.delenv("LAUNCHBAY_DB")
    assert run("queue", "list") == 0
    assert (tmp_path / "xdg-data" / "launchbay" / "launchbay.db").exists()


def test_files_folder_beside_the_database_holds_artifacts_and_runs(store, db_path, tmp_path):
    assert store.files_dir == db_path.parent / "lb.db.files"
    job = make_code_job(store, tmp_path, "hello", "print('hello from the run')\n")
    make_queue(store)
    item_id = launch(store, "hello")
    run_agent(db_path, queues=["local"])

    digest = job.source["artifact"]
    assert store.artifacts.path_for(digest).is_file()
    assert store.artifacts.path_for(digest).is_relative_to(store.files_dir / "artifacts")
    run = store.runs.find_for_item(item_id)
    assert run.state is RunState.FINISHED
    run_dir = store.run_dir(run.id)
    assert run_dir == store.files_dir / "runs" / run.id
    assert "hello from the run" in (run_dir / "output.log").read_text()
    assert (run_dir / "work" / "main.py").is_file()
    assert sorted(p.name for p in store.files_dir.iterdir()) == ["artifacts", "runs"]


def test_reopening_an_up_to_date_database_does_not_import_sqlite_utils(tmp_path):
    path = tmp_path / "lb.db"
    code = f"""
        import sys
        from store import Store
        Store.open({str(path)!r}).close()
        print('sqlite_utils' in sys.modules)
    """
    assert run_python(code).strip() == "True"  # the first open migrates with sqlite-utils
    assert run_python(code).strip() == "False"


# -- the headless core stays light ------------------------------------------------------------


def fake_heavy_packages(root: Path) -> Path:
    """Importable stand-ins for the heavy packages, so an accidental import would succeed and
    show up in sys.modules rather than fail (none of them need be installed here)."""
    for name in HEAVY_MODULES:
        package = root.joinpath(*name.split("."))
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
    return root


def test_headless_core_and_commands_load_no_ui_toolkit_and_no_cloud_sdk(tmp_path):
    fakes = fake_heavy_packages(tmp_path / "fakes")
    db = tmp_path / "lb.db"
    env = clean_env()
    env["PYTHONPATH"] = str(fakes)
    code = f"""
        import importlib.util, json, sys

        heavy = {list(HEAVY_MODULES)!r}
        assert all(importlib.util.find_spec(name) for name in heavy), "fakes not importable"

        import store, runners, runners.agent.loop, runners.targets.local_process.runner
        import runners.launch.request
        import runners.catalog.jobs, runners.catalog.queues, tui.cli
        from tui.cli import main

        exits = []
        for args in (["queue", "list"], ["runs", "list"], ["job", "list"], ["resources"]):
            try:
                main(["--db", {str(db)!r}, *args])
            except SystemExit as exc:
                exits.append(exc.code)
        loaded = sorted(
            m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy)
        )
        print(json.dumps({{"exits": exits, "loaded": loaded}}))
    """
    out = run_python(code, env=env)
    result = json.loads(out.strip().splitlines()[-1])
    assert result == {"exits": [0, 0, 0, 0], "loaded": []}


def test_opening_the_store_again_in_a_process_keeps_its_other_connections_safe(db_path):
    """Closing any descriptor of the database file drops every POSIX lock the process holds on
    it. If opening a second Store did that, another process closing its connection would take
    itself for the last user and delete the WAL under the first Store: its view freezes and
    its later writes are lost."""
    first = Store.open(db_path)
    try:
        make_queue(first, "q")
        Store.open(db_path).close()  # e.g. the TUI's store for another thread
        run_python(
            f"""
            from store import Store
            other = Store.open({str(db_path)!r})
            other.queues.create("from-another-process", "local-process", {{}})
            other.close()
            """
        )
        assert Path(f"{db_path}-wal").exists()  # the first Store still uses it
        names = {queue.name for queue in first.queues.list()}
        assert names == {"q", "from-another-process"}
        make_queue(first, "after")
    finally:
        first.close()
    with sqlite3.connect(db_path) as check:
        rows = check.execute("SELECT name FROM queues ORDER BY name").fetchall()
    assert [name for (name,) in rows] == ["after", "from-another-process", "q"]

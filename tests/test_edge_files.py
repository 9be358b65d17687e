"""Paths, files and disks at the edge (issue 11): a relative --db, what a code snapshot may
hold, a full disk, folder modes under any umask, a run whose log was deleted."""

import contextlib
import os
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from kit import (  # noqa: F401
    BUSYBOX,
    REPO,
    Result,
    assert_bad_input,
    clean_env,
    engine,
    launch,
    make_code_job,
    make_queue,
    run_agent,
)

from runners.catalog.snapshots import extract_snapshot
from store import RunState, Store
from store.paths import resolve_db_path


def launchbay_in(cwd: Path, *args: str, timeout: float = 120) -> Result:
    """`launchbay ARGS…` as a subprocess started in `cwd` (this checkout's code)."""
    env = {**clean_env(), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


# --- a relative --db (3) -----------------------------------------------------------------------


def test_store_path_is_absolute_whatever_was_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_db_path("rel.db") == tmp_path / "rel.db"
    monkeypatch.setenv("LAUNCHBAY_DB", "sub/../env.db")
    assert resolve_db_path(None) == tmp_path / "env.db"


def test_run_launched_with_a_relative_db_reads_its_config_and_finishes(tmp_path):
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.py").write_text(
        "import json, os\n"
        "config = json.load(open(os.environ['LAUNCHBAY_CONFIG_FILE']))\n"
        "print('config says', config['greeting'])\n"
    )
    job = ["code", "hello", "src", "-E", f"{sys.executable} main.py"]
    run, log = _one_run_through_a_relative_db(project, job, "local-process")
    assert "config says hi" in log
    # Read from elsewhere, through the same relative name: the same store.
    result = launchbay_in(project, "--db", "rel.db", "runs", "logs", run.id)
    assert result.out == "config says hi\n", result


# --- what a code snapshot may hold (13) ---------------------------------------------------------


@pytest.fixture
def code_dir(tmp_path) -> Path:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "main.py").write_text("print('hi')\n")
    (src / "pkg" / "data.txt").write_text("data\n")
    return src


def _job_count(db: Path) -> int:
    store = Store.open(db)
    try:
        return len(store.jobs.list_latest())
    finally:
        store.close()


@pytest.mark.parametrize("link", ["outside", "absolute-inside", "escaping"])
def test_code_job_with_a_symlink_leading_outside_is_refused(cli, db_path, code_dir, link):
    secret = code_dir.parent / "secret.txt"
    secret.write_text("not part of the job\n")
    target = {
        "outside": str(secret),
        "absolute-inside": str(code_dir / "main.py"),
        "escaping": "../../secret.txt",
    }[link]
    (code_dir / "pkg" / "link").symlink_to(target)
    result = cli("job", "create", "code", "train", str(code_dir))
    assert_bad_input(result, "PATH: ", f"{code_dir / 'pkg' / 'link'} is a symbolic link")
    assert _job_count(db_path) == 0
    assert not (db_path.parent / "lb.db.files" / "artifacts").exists()


def _make_socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()


@pytest.mark.parametrize(
    ("make", "kind"),
    [(os.mkfifo, "FIFO (named pipe)"), (_make_socket, "socket")],
    ids=["fifo", "socket"],
)
def test_code_job_with_a_fifo_or_socket_is_refused(cli, db_path, code_dir, make, kind):
    make(code_dir / "pkg" / "special")
    result = cli("job", "create", "code", "train", str(code_dir))
    assert_bad_input(result, "PATH: ", f"{code_dir / 'pkg' / 'special'} is a {kind}")
    assert _job_count(db_path) == 0


def test_code_job_keeps_a_relative_symlink_inside_its_directory(store, code_dir, tmp_path):
    from runners.catalog.jobs import create_job

    (code_dir / "data.txt").symlink_to("pkg/data.txt")
    (code_dir / "lib").symlink_to("pkg")
    version = create_job(store, "code", "train", str(code_dir)).version
    unpacked = tmp_path / "unpacked"
    extract_snapshot(store.artifacts.path_for(version.source["artifact"]), unpacked)
    assert os.readlink(unpacked / "data.txt") == "pkg/data.txt"
    assert (unpacked / "data.txt").read_text() == "data\n"
    assert (unpacked / "lib" / "data.txt").read_text() == "data\n"


# --- a full disk (14a) --------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs (we run as root, as scripts/test.sh does), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path, leave: int = 0) -> None:
    """Write a file until the disk is full, then give `leave` bytes back."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    if leave:
        os.truncate(disk / "filler", (disk / "filler").stat().st_size - leave)


def assert_disk_full(result: Result) -> None:
    assert result.code == 1, result
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("launchbay: error: disk full"), result.err
    assert "Traceback" not in result.err


def test_opening_a_new_store_on_a_full_disk_says_disk_full_and_leaves_no_file(small_disk):
    fill(small_disk)
    db = small_disk / "lb.db"
    assert_disk_full(launchbay_in(small_disk.parent, "--db", str(db), "queue", "list"))
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


@pytest.mark.parametrize(
    "command",
    [
        ["launch", "-j", "train", "-q", "local"],
        ["queue", "create", "other", "-r", "local-process"],
        ["job", "create", "code", "other", "{src}"],
    ],
    ids=["launch", "queue-create", "job-create"],
)
def test_writing_commands_on_a_full_disk_say_disk_full(small_disk, tmp_path, command):
    db = small_disk / "lb.db"
    store = Store.open(db)
    try:
        make_code_job(store, tmp_path, "train", "print('hi')\n")
        make_queue(store, "local")
    finally:
        store.close()
    src = tmp_path / "big-src"
    src.mkdir()
    (src / "main.py").write_bytes(os.urandom(200_000))  # incompressible: needs the space
    fill(small_disk)
    args = [part.format(src=src) for part in command]
    assert_disk_full(launchbay_in(tmp_path, "--db", str(db), *args))


def test_job_create_whose_snapshot_does_not_fit_says_disk_full(small_disk, tmp_path):
    db = small_disk / "lb.db"
    Store.open(db).close()
    src = tmp_path / "big-src"
    src.mkdir()
    (src / "main.py").write_bytes(os.urandom(300_000))
    fill(small_disk, leave=128 * 1024)  # room for the database, not for the snapshot
    assert_disk_full(
        launchbay_in(tmp_path, "--db", str(db), "job", "create", "code", "j", str(src))
    )
    assert _job_count(db) == 0


# --- folder modes under any umask (17) -----------------------------------------------------------


@contextlib.contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def test_store_folders_are_private_under_umask_000(tmp_path):
    db = tmp_path / "data" / "lb.db"
    with umask(0):
        store = Store.open(db)
        try:
            make_code_job(store, tmp_path, "hello", "print('hi')\n")
            make_queue(store, "local")
            launch(store, "hello")
        finally:
            store.close()
        run_agent(db)
    files = db.parent / "lb.db.files"
    folders = [db.parent, files, *(p for p in files.rglob("*") if p.is_dir())]
    assert any(p.name == "artifacts" for p in folders) and any(p.name == "runs" for p in folders)
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in folders}
    assert {p: m for p, m in modes.items() if m != "0o700"} == {}


# --- a deleted log (20) --------------------------------------------------------------------------


def test_logs_of_a_run_whose_log_was_deleted_say_it_is_gone(store, db_path, tmp_path, cli):
    make_code_job(store, tmp_path, "hello", "print('hi')\n")
    make_queue(store, "local")
    launch(store, "hello")
    run_agent(db_path)
    (run,) = store.runs.list()
    assert cli("runs", "logs", run.id).out == "hi\n"
    store.run_log_path(run.id).unlink()
    for args in (["runs", "logs", run.id], ["runs", "logs", run.id, "-f"]):
        result = cli(*args)
        assert result.code == 1, result
        assert result.out == ""
        assert result.err.splitlines() == [
            f"launchbay: error: run {run.id}: its log {store.run_log_path(run.id)} is gone"
            " (deleted, or the run has written none yet)"
        ]


def test_logs_of_a_run_still_starting_print_nothing(store, db_path, tmp_path, cli):
    make_code_job(store, tmp_path, "hello", "print('hi')\n")
    queue = make_queue(store, "local")
    launch(store, "hello")
    item = store.items.lease_next(queue, "agent-1")
    assert store.items.claim_with_run(item, "agent-1", "run00001", "local-process", {})
    result = cli("runs", "logs", "run00001")
    assert (result.code, result.out, result.err) == (0, "", "")


def test_a_write_that_finds_the_disk_full_says_disk_full(small_disk, tmp_path, monkeypatch):
    from tui.cli import main

    db = small_disk / "lb.db"
    held = Store.open(db)  # kept open: the next command opens fine and fails at its write
    try:
        make_queue(held, "local")
        fill(small_disk)
        monkeypatch.setenv("LAUNCHBAY_DB", str(db))
        err = tmp_path / "err.txt"
        with (
            open(err, "w") as stream,
            contextlib.redirect_stderr(stream),
            pytest.raises(SystemExit) as exit_info,
        ):
            main(["queue", "create", "other", "-r", "local-process"])
        assert exit_info.value.code == 1
        (line,) = err.read_text().splitlines()
        assert line.startswith("launchbay: error: disk full"), line
        assert [q.name for q in held.queues.list()] == ["local"]
    finally:
        held.close()


def test_a_command_that_cannot_get_the_write_lock_says_so_in_one_line(store, cli, monkeypatch):
    from store import connection

    make_queue(store, "local")
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", 100)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer that keeps the lock past the timeout
    try:
        result = cli("queue", "create", "other", "-r", "local-process")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.code == 1
    (line,) = result.err.splitlines()
    assert line.startswith("launchbay: error: the database is locked by another writer"), line
    assert [q.name for q in store.queues.list()] == ["local"]


def test_docker_run_launched_with_a_relative_db_mounts_its_config(tmp_path, engine):  # noqa: F811
    project = tmp_path / "proj"
    project.mkdir()
    job = ["image", "hello", BUSYBOX, "-E", "sh -c 'cat \"$LAUNCHBAY_CONFIG_FILE\"; echo'"]
    _, log = _one_run_through_a_relative_db(project, job, "docker")
    assert '"greeting": "hi"' in log, log


def _one_run_through_a_relative_db(project: Path, job: list[str], resource: str):
    """Create `job` and a queue of `resource`, launch it with a run config and run an agent,
    all through `--db rel.db` in `project`; the run, which must have finished, and its log."""
    db = ["--db", "rel.db"]
    steps = [
        ["job", "create", *job],
        ["queue", "create", "q", "-r", resource],
        ["launch", "-j", "hello", "-q", "q", "-c", '{"overrides": {"run_config": '
         '{"greeting": "hi"}}}'],
        ["agent", "-q", "q", "--until-empty"],
    ]  # fmt: skip
    for step in steps:
        result = launchbay_in(project, *db, *step)
        assert result.code == 0, (step, result)
    store = Store.open(project / "rel.db")
    try:
        (run,) = store.runs.list()
        log = store.run_log_path(run.id).read_text()
        assert (run.state, run.exit_code) == (RunState.FINISHED, 0), (run, log)
        return run, log
    finally:
        store.close()

"""Bad input is refused at the edge: one line on stderr that names the field and says what was
expected, exit code 2, and nothing changed — not a row of the store, not a byte of a file."""

import json
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
from kit import (
    assert_bad_input,
    git,
    make_code_job,
    make_queue,
    refusal_checker,
    run_launchbay,
    snapshot,
)

from store import RunState, Store

INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "lr": {"type": "number", "minimum": 0, "default": 0.1},
        "epochs": {"type": "integer", "default": 3},
        "optimizer": {"type": "string", "enum": ["adam", "sgd"], "default": "adam"},
    },
}

GPU_QUEUE_CONFIG = {
    "resource_args": {"env": {"GPUS": "{{gpus}}", "MODE": "{{mode}}"}},
    "template_variables": {
        "gpus": {"type": "integer", "minimum": 1, "maximum": 8, "description": "GPUs per run"},
        "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
    },
}

CPU_QUEUE_CONFIG = {
    "resource_args": {"env": {"SHARE": "{{share}}"}},
    "template_variables": {"share": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5}},
}


@dataclass
class World:
    """A store with a row in every table, closed again so that only the CLI touches it."""

    db: Path
    tmp: Path
    run_id: str
    finished_item: int
    cancelled_item: int


@pytest.fixture
def world(db_path, tmp_path) -> World:
    store = Store.open(db_path)
    try:
        schema_file = tmp_path / "schema.json"
        schema_file.write_text(json.dumps(INPUT_SCHEMA))
        make_code_job(
            store,
            tmp_path,
            "train",
            "print('hi')\n",
            schema_path=str(schema_file),
            aliases=("prod",),
        )
        store.jobs.create_version("img", "image", {"image": "python:3.11"})
        make_queue(store, "local")
        make_queue(store, "gpu", GPU_QUEUE_CONFIG)
        make_queue(store, "cpu", CPU_QUEUE_CONFIG)
        local = store.queues.get("local")
        launch_spec = {
            "run_config": {},
            "args": [],
            "entry_point": None,
            "resource_args": {},
            "template_variables": {},
        }
        version = store.jobs.resolve("train")
        finished_item = store.items.enqueue(local.id, version.id, version.ref, launch_spec)
        cancelled_item = store.items.enqueue(local.id, version.id, version.ref, launch_spec)
        store.items.enqueue(local.id, version.id, version.ref, launch_spec)  # stays pending
        item = store.items.lease_next(local, "agent-1")
        assert item is not None and item.id == finished_item
        run_id = "run00001"
        assert store.items.claim_with_run(item, "agent-1", run_id, "local-process", {"x": 1})
        store.runs.transition(run_id, RunState.RUNNING)
        store.runs.transition(run_id, RunState.FINISHED, exit_code=0)
        store.items.cancel(cancelled_item)
    finally:
        store.close()
    return World(db_path, tmp_path, run_id, finished_item, cancelled_item)


def test_snapshot_sees_every_table(world):
    dump, _, _ = snapshot(world.db)
    text = "\n".join(dump)
    for table in (
        "jobs",
        "job_versions",
        "job_aliases",
        "queues",
        "queue_items",
        "runs",
        "run_events",
    ):
        assert f'INSERT INTO "{table}"' in text, table


@pytest.fixture
def refused(world, cli):
    return refusal_checker(cli, world.db)


# --- jobs, versions, aliases, queues that don't exist -----------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["launch", "-j", "nope", "-q", "local"], ["job: ", "'nope'", "known jobs: img, train"]),
        (["job", "describe", "nope"], ["job: ", "'nope'", "known jobs"]),
    ],
    ids=["launch", "describe"],
)
def test_unknown_job_is_refused(refused, args, fragments):
    refused(args, *fragments)


def test_unknown_version_is_refused(refused):
    refused(["launch", "-j", "train:v9", "-q", "local"], "job version: ", "train:v9", "v0..v0")


def test_unknown_alias_is_refused(refused):
    refused(["launch", "-j", "train:nope", "-q", "local"], "job alias: ", "train:nope", "prod")


@pytest.mark.parametrize(
    "args",
    [
        ["launch", "-j", "train", "-q", "nope"],
        ["queue", "describe", "nope"],
        ["queue", "pause", "nope"],
        ["queue", "resume", "nope"],
        ["queue", "delete", "nope"],
        ["runs", "list", "-q", "nope"],
    ],
    ids=["launch", "describe", "pause", "resume", "delete", "runs-list"],
)
def test_unknown_queue_is_refused(refused, args):
    refused(args, "queue: ", "'nope'", "known queues: cpu, gpu, local")


# --- the launch spec (-c) ----------------------------------------------------------------------


def test_unknown_queue_is_refused_by_the_real_command(world):
    before = snapshot(world.db)
    result = run_launchbay("launch", "-j", "train", "-q", "nope", db=world.db)
    assert_bad_input(result, "queue: ", "'nope'")
    assert result.out == ""
    assert snapshot(world.db) == before


def test_deleting_a_queue_with_waiting_items_is_refused(refused):
    refused(["queue", "delete", "local"], "queue: ", "1 waiting item(s)", "cancel them first")


def test_malformed_json_spec_string_is_refused(refused):
    refused(
        ["launch", "-j", "train", "-q", "local", "-c", '{"overrides": {"args": [}'],
        "-c/--config: ",
        "malformed JSON",
        "line 1",
    )


def test_malformed_yaml_spec_file_is_refused(refused, world):
    spec = world.tmp / "spec.yaml"
    spec.write_text("overrides:\n  args: [--epochs, 3\n  run_config: {lr: 0.1}\n")
    refused(
        ["launch", "-j", "train", "-q", "local", "-c", str(spec)],
        "-c/--config: ",
        "malformed YAML in spec.yaml",
        "line ",
    )


@pytest.mark.parametrize("name", ["missing.yaml", "missing.json"])
def test_missing_spec_file_is_refused(refused, world, name):
    path = world.tmp / name
    refused(
        ["launch", "-j", "train", "-q", "local", "-c", str(path)],
        "-c/--config: ",
        f"{path} does not exist",
        "expected a .json or .yaml file",
    )


NOT_UTF8 = b"\xff\xfe\x00overrides: {}\n"


@pytest.mark.parametrize("option", ["launch -c", "queue create -c", "job create --schema"])
def test_a_file_that_is_not_utf8_text_is_refused(refused, world, option):
    path = world.tmp / "binary.yaml"
    path.write_bytes(NOT_UTF8)
    args, field = {
        "launch -c": (["launch", "-j", "train", "-q", "local", "-c"], "-c/--config: "),
        "queue create -c": (["queue", "create", "q2", "-r", "local-process", "-c"], "--config: "),
        "job create --schema": (
            ["job", "create", "code", "t2", str(world.tmp / "src-train"), "--schema"],
            "--schema: ",
        ),
    }[option]
    refused([*args, str(path)], field, "binary.yaml")
    assert path.read_bytes() == NOT_UTF8


def test_unknown_top_level_key_in_spec_is_refused(refused):
    refused(
        ["launch", "-j", "train", "-q", "local", "-c", '{"overides": {"args": []}}'],
        "overides: unknown key",
        "expected one of overrides, resource_args",
    )


def test_unknown_key_under_overrides_is_refused(refused):
    refused(
        ["launch", "-j", "train", "-q", "local", "-c", '{"overrides": {"run_cfg": {}}}'],
        "overrides.run_cfg: unknown key",
        "expected one of run_config, args, entry_point",
    )


@pytest.mark.parametrize(
    "args_value",
    ["--epochs 3", 5, {"epochs": 3}, [["nested"]]],
    ids=["string", "int", "mapping", "list-of-lists"],
)
def test_overrides_args_that_is_not_a_list_of_strings_is_refused(refused, args_value):
    spec = json.dumps({"overrides": {"args": args_value}})
    refused(
        ["launch", "-j", "train", "-q", "local", "-c", spec], "overrides.args: ", "expected a list"
    )


# --- queue template variables at launch ----------------------------------------------------------


@pytest.mark.parametrize(
    ("set_vars", "fragments"),
    [
        ([], ["--set-var gpus: ", "missing", "GPUs per run"]),
        (["gpus=abc"], ["--set-var gpus: ", "expected an integer between 1 and 8, got 'abc'"]),
        (["gpus=9"], ["--set-var gpus: ", "expected an integer between 1 and 8, got 9"]),
        (["gpus=0"], ["--set-var gpus: ", "expected an integer between 1 and 8, got 0"]),
        (["gpus=2", "mode=medium"], ["--set-var mode: ", "'medium'", "one of 'fast', 'slow'"]),
        (["gpus=2", "colour=red"], ["--set-var colour: ", "unknown", "expected one of gpus, mode"]),
    ],
    ids=["missing", "wrong-type", "above-range", "below-range", "not-in-enum", "unknown-name"],
)
def test_bad_template_variable_is_refused(refused, set_vars, fragments):
    args = ["launch", "-j", "train", "-q", "gpu"]
    for item in set_vars:
        args += ["--set-var", item]
    refused(args, *fragments)


@pytest.mark.parametrize("item", ["gpus", "=4"])
def test_set_var_without_name_and_equals_is_refused(refused, item):
    refused(
        ["launch", "-j", "train", "-q", "gpu", "--set-var", item],
        "--set-var: ",
        repr(item),
        "expected NAME=VALUE",
    )


# --- the run config against the job's input schema ---------------------------------------------


@pytest.mark.parametrize(
    ("run_config", "fragments"),
    [
        ({"epochs": "ten"}, ["run_config.epochs: ", "expected an integer", "got 'ten'"]),
        ({"lr": -0.5}, ["run_config.lr: ", "expected a number ≥ 0, got -0.5"]),
        ({"lr_rate": 0.5}, ["run_config.lr_rate: ", "expected one of lr, epochs, optimizer"]),
        ({"optimizer": "rmsprop"}, ["run_config.optimizer: ", "one of 'adam', 'sgd'"]),
    ],
    ids=["wrong-type", "below-minimum", "unknown-key", "not-in-enum"],
)
def test_run_config_violating_the_job_schema_is_refused(refused, run_config, fragments):
    spec = json.dumps({"overrides": {"run_config": run_config}})
    refused(["launch", "-j", "train", "-q", "local", "-c", spec], *fragments)


@pytest.mark.parametrize("run_config", [[], "", 0, False], ids=["list", "str", "zero", "false"])
def test_run_config_that_is_not_a_mapping_is_refused(refused, run_config):
    spec = json.dumps({"overrides": {"run_config": run_config}})
    refused(
        ["launch", "-j", "train", "-q", "local", "-c", spec],
        "overrides.run_config: ",
        "expected a mapping",
    )


def test_nan_run_config_value_is_refused(refused):
    spec = '{"overrides": {"run_config": {"lr": NaN}}}'
    refused(["launch", "-j", "train", "-q", "local", "-c", spec], "run_config.lr: ")


def test_nan_template_variable_is_refused(refused):
    refused(["launch", "-j", "train", "-q", "cpu", "--set-var", "share=nan"], "--set-var share: ")


def test_image_job_on_a_local_process_queue_is_refused(refused):
    refused(
        ["launch", "-j", "img", "-q", "local"], "job: ", "img:v0 is an image job", "local-process"
    )


# --- queues ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bad name!", "q" * 65], ids=["punctuation", "65-chars"])
def test_invalid_queue_name_is_refused(refused, name):
    refused(
        ["queue", "create", name, "-r", "local-process"],
        "queue name: ",
        repr(name),
        "expected 1-64 of A-Z a-z 0-9 _ . -",
    )


def test_duplicate_queue_name_is_refused(refused):
    refused(
        ["queue", "create", "local", "-r", "local-process"],
        "queue name: ",
        "a queue named 'local' already exists",
    )


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        (
            {"resource_args": {"foo": 1}},
            [
                "resource_args.foo: unknown key",
                "expected one of gpus, gpu_min_free_mib, gpu_name, time_limit, env, inherit_env,"
                " cwd, stop_grace_seconds",
            ],
        ),
        (
            {"resource_args": {"env": {"GPUS": "{{gpus}}"}}},
            ["template_variables.gpus: ", "{{gpus}} is used in resource_args but not declared"],
        ),
    ],
    ids=["unknown-resource-arg", "undeclared-variable"],
)
def test_bad_queue_config_is_refused(refused, world, config, fragments):
    path = world.tmp / "queue.yaml"
    path.write_text(json.dumps(config))
    refused(["queue", "create", "q2", "-r", "local-process", "-c", str(path)], *fragments)


def test_unknown_resource_type_is_refused(refused):
    refused(
        ["queue", "create", "q2", "-r", "warp-drive"],
        "resource: ",
        "unknown resource type 'warp-drive'",
        "expected one of local-process",
    )


# --- job create --------------------------------------------------------------------------------


@pytest.fixture
def git_repo(tmp_path) -> str:
    """A real repository with one commit on `main`; returns its file:// URL."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "main.py").write_text("print('hi')\n")
    git(repo, "add", "main.py")
    git(repo, "commit", "-qm", "one")
    return repo.as_uri()


def test_git_job_from_an_unreachable_url_is_refused(refused, world):
    url = "file:///nonexistent/repo.git"
    refused(["job", "create", "git", "g", url], "URL: ", f"{url} could not be reached")


@pytest.mark.parametrize("ref", ["nope", "deadbeefdeadbeef"], ids=["name", "sha"])
def test_git_job_with_a_ref_that_does_not_exist_is_refused(refused, git_repo, ref):
    refused(
        ["job", "create", "git", "g", git_repo, "--ref", ref],
        "--ref: ",
        f"{ref!r} is not a branch, tag or commit of {git_repo}",
    )


def test_code_job_from_a_missing_path_is_refused(refused, world):
    path = world.tmp / "no-such-dir"
    refused(
        ["job", "create", "code", "c", str(path)],
        "PATH: ",
        f"{path} does not exist",
        "expected a directory of code",
    )


def test_code_job_from_a_file_is_refused(refused, world):
    path = world.tmp / "main.py"
    path.write_text("print('hi')\n")
    refused(
        ["job", "create", "code", "c", str(path)],
        "PATH: ",
        f"{path} is not a directory",
        "expected a directory of code",
    )


# --- runs cancel -------------------------------------------------------------------------------


def test_cancel_of_an_unknown_run_is_refused(refused):
    refused(["runs", "cancel", "zzzz9999"], "run: ", "no run with id or id prefix 'zzzz9999'")


def test_cancel_of_an_unknown_item_is_refused(refused):
    refused(["runs", "cancel", "9999"], "item: ", "no queue item with id 9999")


def test_cancel_of_an_ended_run_is_refused(refused, world):
    refused(["runs", "cancel", world.run_id], "ID: ", f"run {world.run_id} already ended")


def test_cancel_of_a_cancelled_item_is_refused(refused, world):
    refused(
        ["runs", "cancel", str(world.cancelled_item)],
        "ID: ",
        f"item {world.cancelled_item} is cancelled",
    )


# --- the database file -------------------------------------------------------------------------


def _folder_state(folder: Path) -> dict:
    """Every file under `folder` with its bytes (and mode), so nothing can change unseen."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        if p.is_file()
        else None
        for p in sorted(folder.rglob("*"))
    }


def _refuses_database(cli, db: Path, *fragments: str) -> str:
    """`queue list` on `db` is refused, and nothing in its folder changed: the file's bytes and
    mode, and no -wal, -shm or .files left behind. (Compared before anything else reads it.)"""
    before = _folder_state(db.parent)
    line = assert_bad_input(cli("queue", "list", "--db", str(db)), "database: ", *fragments)
    assert _folder_state(db.parent) == before
    return line


def test_database_path_that_is_a_directory_is_refused(cli, tmp_path):
    db = tmp_path / "dbs" / "lb.db"
    db.mkdir(parents=True)
    _refuses_database(cli, db, f"{db} is a directory", "expected a database file")


def test_database_that_is_not_sqlite_is_refused(cli, tmp_path):
    db = tmp_path / "dbs" / "notes.txt"
    db.parent.mkdir()
    db.write_text("these are my notes, not a database\n")
    _refuses_database(cli, db, f"{db} is not an SQLite database")
    assert db.read_text() == "these are my notes, not a database\n"


def test_database_whose_folder_is_a_file_is_refused(cli, tmp_path):
    parent = tmp_path / "dbs" / "notes.txt"
    parent.parent.mkdir()
    parent.write_text("notes\n")
    _refuses_database(cli, parent / "lb.db", str(parent / "lb.db"))


def test_database_with_an_sqlite_header_but_garbage_after_is_refused(cli, tmp_path):
    db = tmp_path / "dbs" / "lb.db"
    db.parent.mkdir()
    db.write_bytes(b"SQLite format 3\x00" + b"x" * 4096)
    _refuses_database(cli, db, "is not an SQLite database, or is damaged")


def _real_database(folder: Path) -> Path:
    db = folder / "lb.db"
    folder.mkdir()
    store = Store.open(db)
    make_queue(store, "local")
    store.close()
    return db


def _queue_names(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM queues")]
    finally:
        conn.close()


def test_read_only_database_is_refused(cli, tmp_path):
    db = _real_database(tmp_path / "dbs")
    os.chmod(db, 0o400)
    _refuses_database(cli, db, f"{db} is read-only", "expected a writable file")
    assert stat.S_IMODE(db.stat().st_mode) == 0o400
    assert _queue_names(db) == ["local"]


def test_database_of_a_newer_schema_is_refused(cli, tmp_path):
    db = _real_database(tmp_path / "dbs")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    _refuses_database(cli, db, "newer launchbay", "schema 999", "upgrade launchbay")
    assert snapshot(db)[1] == 999
    assert _queue_names(db) == ["local"]


# --- click's own usage errors --------------------------------------------------------------------


def test_missing_required_option_is_a_usage_error(world, cli):
    before = snapshot(world.db)
    result = cli("launch", "-j", "train")
    assert result.code == 2, result
    assert "Missing option '--queue' / '-q'" in result.err
    assert result.out == ""
    assert snapshot(world.db) == before

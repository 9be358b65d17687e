"""Hostile input refused at the edge (issue 11): documents too deep or too large, YAML alias
bombs, names with a trailing newline, integers SQLite cannot hold, NUL bytes and bad env names,
an empty --db. Each: exit 2, one line naming the field, the store unchanged."""

import json
import resource

import pytest
import test_bad_input
from kit import assert_bad_input, refusal_checker, run_launchbay, snapshot

from runners.launch.documents import MAX_DEPTH, check_document_bounds, load_document
from store import BadInput, Store

world = test_bad_input.world  # the fixture: a store with a row in every table


@pytest.fixture
def refused(world, cli):
    return refusal_checker(cli, world.db)


def _nested_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- documents: depth and size (1a, 8) ---------------------------------------------------------


def test_run_config_nested_490_lists_deep_is_refused_at_launch(refused):
    spec = '{"overrides": {"run_config": {"lr": 0.1, "deep": ' + _nested_lists(490) + "}}}"
    refused(
        ["launch", "-j", "train", "-q", "local", "-c", spec],
        "-c/--config: ",
        f"nested deeper than {MAX_DEPTH} levels",
        "overrides.run_config.deep",
    )


def test_json_too_deep_for_the_parser_is_refused_without_recursion_error(refused):
    refused(
        ["launch", "-j", "train", "-q", "local", "-c", _nested_lists(200_000)],
        "-c/--config: ",
        f"nested deeper than {MAX_DEPTH} levels",
    )


@pytest.mark.parametrize("style", ["block", "flow"])
def test_deep_yaml_file_is_refused_without_recursion_error(refused, world, style):
    path = world.tmp / "deep.yaml"
    if style == "block":
        path.write_text("resource_args:\n" + "".join(" " * i + "- \n" for i in range(1, 2000)))
    else:
        path.write_text("resource_args: " + _nested_lists(5000) + "\n")
    refused(
        ["queue", "create", "deep", "-r", "local-process", "--config", str(path)],
        "--config: ",
        "deep.yaml: nested deeper than",
    )


def _alias_bomb() -> str:
    """About 400 bytes that expand to 9**9 strings (the 'billion laughs')."""
    names = "abcdefghij"
    lines = ["overrides:", " run_config:", "  a: &a [" + ",".join(["lol"] * 9) + "]"]
    for prev, name in zip(names, names[1:], strict=False):
        lines.append(f"  {name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _limit_memory_to_1gib():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_yaml_alias_bomb_is_refused_with_memory_bounded(world):
    spec = world.tmp / "bomb.yaml"
    spec.write_text(_alias_bomb())
    assert len(spec.read_bytes()) < 450
    before = snapshot(world.db)
    # Its own process, capped at 1 GiB: expanding the aliases would need far more.
    result = run_launchbay(
        "launch", "-j", "train", "-q", "local", "-c", str(spec),
        db=world.db, timeout=60, preexec_fn=_limit_memory_to_1gib,
    )  # fmt: skip
    assert_bad_input(result, "-c/--config: ", "bomb.yaml: larger than 4 MiB")
    assert snapshot(world.db) == before


def test_yaml_anchors_and_merge_keys_within_bounds_still_work(tmp_path):
    path = tmp_path / "queue.yaml"
    path.write_text(
        "base: &base {OMP_NUM_THREADS: '4', MODE: fast}\n"
        "resource_args:\n  env:\n    <<: *base\n    MODE: slow\n"
    )
    document = load_document(str(path), "--config")
    assert document["resource_args"]["env"] == {"OMP_NUM_THREADS": "4", "MODE": "slow"}


def test_document_file_over_the_size_limit_is_refused(refused, world):
    path = world.tmp / "big.json"
    path.write_text(json.dumps({"overrides": {"args": ["x" * 1000] * 5000}}))
    refused(
        ["launch", "-j", "train", "-q", "local", "-c", str(path)],
        "-c/--config: ",
        "larger than 4 MiB",
    )


def test_deep_job_schema_file_is_refused(refused, world):
    path = world.tmp / "schema.json"
    path.write_text(
        '{"type": "object", "properties": {"x": ' + '{"items": ' * 100 + "{}" + "}" * 102
    )
    refused(
        ["job", "create", "image", "deep", "python:3.11", "--schema", str(path)],
        "--schema: ",
        "nested deeper than",
    )


def _deep_dict(depth: int) -> dict:
    node: dict = {}
    root = node
    for _ in range(depth):
        node["x"] = {}
        node = node["x"]
    return root


def test_launch_spec_dict_from_a_form_is_bounded_too(world):
    from runners.launch.request import LaunchRequest, prepare_launch

    before = snapshot(world.db)
    store = Store.open(world.db)
    try:
        spec = {"overrides": {"run_config": {"lr": _deep_dict(500)}}}
        with pytest.raises(BadInput) as refusal:
            prepare_launch(store, LaunchRequest(job="train", queue="local", spec=spec))
    finally:
        store.close()
    assert refusal.value.field == "launch spec"
    assert "nested deeper than" in refusal.value.message
    assert snapshot(world.db) == before


def test_queue_config_dict_from_the_editor_is_bounded_too():
    from runners.catalog.queues import check_queue_config

    with pytest.raises(BadInput) as refusal:
        check_queue_config("local-process", {"resource_args": {"env": _deep_dict(500)}})
    assert refusal.value.field == "config"
    # Shared lists (what YAML aliases give) count as expanded: refused, not walked for ever.
    shared: list = ["lol"] * 10
    for _ in range(30):
        shared = [shared] * 10
    with pytest.raises(BadInput, match="larger than 4 MiB"):
        check_document_bounds({"x": shared}, "config")


# --- names must match whole (10) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["job", "create", "image", "nl\n", "python:3.11"], ["NAME: ", "'nl\\n'"]),
        (["queue", "create", "nl\n", "-r", "local-process"], ["queue name: ", "'nl\\n'"]),
        (["job", "create", "image", "img", "python:3.11", "--alias", "a\n"], ["--alias: "]),
    ],
    ids=["job", "queue", "alias"],
)
def test_name_ending_in_a_newline_is_refused(refused, args, fragments):
    refused(args, *fragments)


def test_template_variable_name_ending_in_a_newline_is_refused(refused, world):
    path = world.tmp / "queue.json"
    config = {"template_variables": {"nl\n": {"type": "string", "default": "x"}}}
    path.write_text(json.dumps(config))
    refused(
        ["queue", "create", "vq", "-r", "local-process", "--config", str(path)],
        "template_variables: ",
        "'nl\\n' is not a valid variable name",
    )


def test_an_error_quoting_a_key_with_a_newline_stays_one_line(refused):
    refused(
        ["launch", "-j", "train", "-q", "local", "-c", '{"over\\nrides": {}}'],
        "over\\nrides: unknown key",
    )


def test_code_job_name_ending_in_a_newline_is_refused(refused, world):
    src = world.tmp / "src-train"
    refused(["job", "create", "code", "nl\n", str(src)], "NAME: ", "'nl\\n'")


def test_version_selector_with_a_trailing_newline_is_no_version(refused):
    refused(["job", "describe", "train:v0\n"], "job alias: ")


# --- integers SQLite cannot hold (11) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["queue", "create", "big", "-r", "local-process", "--max-concurrency", "1" + "0" * 23],
            ["max_concurrency: ", "expected a whole number from 1 to"],
        ),
        (["job", "describe", "train:v" + "9" * 23], ["job version: ", "has versions v0..v0"]),
        (["runs", "list", "-n", "1" + "0" * 20], ["--limit"]),
        (["runs", "cancel", "9" * 23], ["ID: ", "no queue item or run"]),
        (["agent", "-j", "1" + "0" * 20, "--until-empty"], ["--max-jobs"]),
    ],
    ids=["max-concurrency", "version", "runs-limit", "cancel-id", "agent-max-jobs"],
)
def test_integer_too_big_for_sqlite_is_refused(refused, args, fragments):
    refused(args, *fragments)


def test_max_concurrency_too_big_is_refused_by_the_store(store):
    with pytest.raises(BadInput, match="max_concurrency"):
        store.queues.create("q", "local-process", {}, max_concurrency=10**23)
    assert store.queues.list() == []


# --- NUL bytes and env names (12) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (["-a", "--lr=0.1\x00x"], ["args[0]: ", "NUL byte"]),
        (["-E", "python\x00 main.py"], ["entry_point[0]: ", "NUL byte"]),
        (["-c", '{"overrides": {"args": ["a\\u0000b"]}}'], ["args[0]: ", "NUL byte"]),
        (
            ["-c", '{"overrides": {"entry_point": ["python", "m\\u0000.py"]}}'],
            ["entry_point[1]: ", "NUL byte"],
        ),
        (["-c", '{"resource_args": {"env": {"A": "x\\u0000y"}}}'], ["resource_args.env.A: "]),
        (["-c", '{"resource_args": {"env": {"A=B": "x"}}}'], ["resource_args.env: ", "'A=B'"]),
        (["-c", '{"resource_args": {"env": {"": "x"}}}'], ["resource_args.env: ", "''"]),
    ],
    ids=[
        "arg",
        "entrypoint",
        "spec-arg",
        "spec-entrypoint",
        "env-value",
        "env-name-eq",
        "env-empty",
    ],
)
def test_nul_byte_or_bad_env_name_is_refused_at_launch(refused, extra, fragments):
    refused(["launch", "-j", "train", "-q", "local", *extra], *fragments)


def test_nul_byte_in_a_template_variable_value_is_refused_at_launch(world, cli):
    from kit import make_queue

    store = Store.open(world.db)
    try:
        config = {
            "resource_args": {"env": {"TAG": "{{tag}}"}},
            "template_variables": {"tag": {"type": "string", "default": "x"}},
        }
        make_queue(store, "tagged", config)
    finally:
        store.close()
    refusal_checker(cli, world.db)(
        ["launch", "-j", "train", "-q", "tagged", "--set-var", "tag=a\x00b"], "NUL byte"
    )


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({"A": "x\x00y"}, ["resource_args.env.A: ", "NUL byte"]),
        ({"A=B": "x"}, ["resource_args.env: ", "not a valid environment variable name"]),
        ({"": "x"}, ["resource_args.env: ", "not a valid environment variable name"]),
    ],
    ids=["value-nul", "name-eq", "name-empty"],
)
def test_nul_byte_or_bad_env_name_is_refused_at_queue_create(refused, world, env, fragments):
    path = world.tmp / "queue.json"
    path.write_text(json.dumps({"resource_args": {"env": env}}))
    refused(["queue", "create", "envq", "-r", "local-process", "--config", str(path)], *fragments)


def test_nul_byte_in_a_job_entrypoint_is_refused(refused):
    refused(
        ["job", "create", "image", "img2", "python:3.11", "-E", "python\x00 x.py"],
        "--entrypoint[0]: ",
        "NUL byte",
    )


# --- the store's path (15) ---------------------------------------------------------------------


def test_empty_db_option_is_refused(cli, tmp_path, monkeypatch):
    from tui.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", "", "queue", "list"])
    assert exit_info.value.code == 2
    assert list(tmp_path.iterdir()) == []


def test_empty_db_option_says_so_in_one_line(tmp_path):
    result = run_launchbay("queue", "list", db=tmp_path / "x.db", env=_env(tmp_path, None))
    assert result.code == 0, result
    result = _run_with_db("", tmp_path)
    assert_bad_input(result, "--db: ", "is empty")


def test_empty_launchbay_db_variable_is_refused(tmp_path):
    import subprocess
    import sys

    from kit import REPO

    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "queue", "list"],
        capture_output=True, text=True, cwd=REPO, env=_env(tmp_path, ""), timeout=60,
    )  # fmt: skip
    assert_bad_input(proc_result(proc), "LAUNCHBAY_DB: ", "is empty")
    assert not (tmp_path / "xdg").exists()


def _env(tmp_path, db_value):
    import os

    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env.pop("LAUNCHBAY_DB", None)
    if db_value is not None:
        env["LAUNCHBAY_DB"] = db_value
    return env


def _run_with_db(value: str, tmp_path):
    import subprocess
    import sys

    from kit import REPO

    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--db", value, "queue", "list"],
        capture_output=True, text=True, cwd=REPO, env=_env(tmp_path, None), timeout=60,
    )  # fmt: skip
    return proc_result(proc)


def proc_result(proc):
    from kit import Result

    return Result(proc.returncode, proc.stdout, proc.stderr)

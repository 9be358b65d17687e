"""`launchbay queue update NAME --config FILE --max-concurrency N`: the headless twin of the
app's queue editor, through the same check and save path; bad input changes nothing."""

import json

import pytest
import yaml
from kit import refusal_checker


@pytest.fixture
def queue(cli, tmp_path):
    config = tmp_path / "queue.yaml"
    config.write_text(
        yaml.safe_dump({"resource_args": {"env": {"MODE": "a", "DB_PASSWORD": "s3cret"}}})
    )
    result = cli("queue", "create", "box", "-r", "local-process", "-c", str(config))
    assert result.code == 0, result.err
    return "box"


def test_config_and_max_concurrency_are_replaced(cli, store, queue, tmp_path):
    # What `describe --json` shows (the secret as ***), edited, is what update takes back.
    shown = json.loads(cli("queue", "describe", queue, "--json").out)["config"]
    assert shown["resource_args"]["env"]["DB_PASSWORD"] != "s3cret"
    shown["resource_args"]["env"]["MODE"] = "b"
    shown["template_variables"] = {"threads": {"type": "integer", "default": 4}}
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(shown))

    result = cli("queue", "update", queue, "--config", str(edited), "--max-concurrency", "3")
    assert result.code == 0, result.err
    assert result.out.strip() == "updated queue box"
    saved = store.queues.get(queue)
    assert saved.resource_args["env"] == {"MODE": "b", "DB_PASSWORD": "s3cret"}
    assert saved.template_variables["threads"]["default"] == 4
    assert saved.max_concurrency == 3

    assert cli("queue", "update", queue, "--max-concurrency", "none").code == 0
    assert store.queues.get(queue).max_concurrency is None
    assert store.queues.get(queue).resource_args["env"]["MODE"] == "b"  # config untouched


def test_bad_input_is_refused_and_changes_nothing(cli, db_path, queue, tmp_path):
    refused = refusal_checker(cli, db_path)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("resource_args: {envv: {A: b}}\n")
    good = tmp_path / "good.yaml"
    good.write_text("resource_args: {env: {A: b}}\n")
    escape = tmp_path / "escape.yaml"
    escape.write_text("resource_args: {env: {A: '{{v}}'}}\ntemplate_variables: {v: {type: bool}}\n")

    refused(["queue", "update", queue, "-c", str(unknown)], "envv")
    refused(["queue", "update", queue, "-c", str(escape)], "template_variables.v.type")
    # A good config with a bad limit: neither is written.
    refused(
        ["queue", "update", queue, "-c", str(good), "--max-concurrency", "0"], "--max-concurrency"
    )
    refused(
        ["queue", "update", queue, "--max-concurrency", "many"],
        "--max-concurrency",
        "expected a whole number from 1 to 1_000_000",
    )
    # Past the store's limit: named as typed, not as the store's column.
    refused(
        ["queue", "update", queue, "--max-concurrency", "1000001"], "--max-concurrency: 1000001"
    )
    refused(["queue", "update", queue, "-c", str(tmp_path / "missing.yaml")], "--config")
    refused(["queue", "update", "nosuch", "-c", str(good)], "nosuch")
    refused(["queue", "update", queue], "nothing to change")

"""Each target declares the keys its queue config takes, with their help, in its own settings
module; the CLI reads those declarations, and they agree with what the target's check accepts."""

import importlib
import json

import pytest
from kit import add_fake_target, modules_loaded_by_cli

from runners.registry import CONFIG_BLOCKS, RESOURCE_TYPES, get_runner, resource_type
from store import BadInput

DECLARED = [
    (entry.name, block)
    for entry in RESOURCE_TYPES
    for block in CONFIG_BLOCKS
    if entry.config_keys(block)
]
WITHOUT_TARGET = [entry.name for entry in RESOURCE_TYPES if not entry.config_keys("target")]
# The least a block with required keys takes (the others need none).
POOL = {"machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": 1}
VALID = {
    ("vertex", "resource_args"): {
        "spec": {"worker_pool_specs": [POOL], "staging_bucket": "gs://b"}
    },
    ("ray", "target"): {"address": "http://127.0.0.1:8265"},
}


def declared_model(resource: str, block: str):
    """The pydantic model a target's settings module names for `block`, imported."""
    entry = resource_type(resource)
    settings = importlib.import_module(f"{entry.package}.settings")
    module, _, name = settings.CONFIG_MODELS[block].rpartition(".")
    holder = importlib.import_module(f"{entry.package}.{module}") if module else settings
    return getattr(holder, name)


def target_check(resource: str, block: str):
    """What the target itself checks a queue config's `block` with."""
    runner = get_runner(resource)
    if block == "target":
        return runner.check_target
    return lambda value: runner.check_resource_args(value, None)


def names(resource: str, block: str) -> list[str]:
    return [key.name for key in resource_type(resource).config_keys(block)]


def flat(text: str) -> str:
    """Text with its line wrapping undone (click wraps help to the terminal)."""
    return " ".join(text.split())


def test_every_remote_target_declares_its_target_keys_and_five_declare_resource_args():
    assert {resource for resource, block in DECLARED if block == "target"} == {
        "kubernetes",
        "sagemaker",
        "slurm",
        "vertex",
        "ray",
    }
    assert set(WITHOUT_TARGET) == {"local-process", "docker"}
    assert ("docker", "resource_args") in DECLARED
    assert ("local-process", "resource_args") in DECLARED
    assert ("ray", "resource_args") in DECLARED
    assert ("slurm", "resource_args") in DECLARED
    assert ("vertex", "resource_args") in DECLARED


@pytest.mark.parametrize(("resource", "block"), DECLARED)
def test_the_declared_keys_are_the_fields_of_the_model_named_with_their_docstrings(resource, block):
    model = declared_model(resource, block)
    keys = resource_type(resource).config_keys(block)
    assert [key.name for key in keys] == list(model.model_fields)
    assert all(key.help for key in keys), [key.name for key in keys if not key.help]


@pytest.mark.parametrize(("resource", "block"), DECLARED)
def test_the_targets_check_refuses_an_undeclared_key_listing_exactly_the_declared_ones(
    resource, block
):
    with pytest.raises(BadInput) as caught:
        target_check(resource, block)({**VALID.get((resource, block), {}), "no_such_key": 1})
    assert caught.value.field == f"{block}.no_such_key"
    expected = ", ".join(names(resource, block))
    assert caught.value.message == f"unknown key; expected one of {expected}"


@pytest.mark.parametrize(("resource", "block"), DECLARED)
def test_the_targets_check_takes_every_declared_key(resource, block):
    model = declared_model(resource, block)
    check = target_check(resource, block)
    valid = VALID.get((resource, block), {})
    check(valid)  # the required keys (and no BadInput)
    for name, field in model.model_fields.items():
        if not field.is_required():
            check({**valid, name: field.get_default(call_default_factory=True)})


@pytest.mark.parametrize("resource", WITHOUT_TARGET)
def test_a_type_declaring_no_target_keys_takes_no_target_block(resource):
    runner = get_runner(resource)
    assert runner.check_target(None) is None
    with pytest.raises(BadInput) as caught:
        runner.check_target({"zone": "moon-1"})
    assert caught.value.field == "target"


def test_queue_create_help_lists_every_declared_target_key(cli):
    result = cli("queue", "create", "--help")
    assert result.code == 0
    for resource, block in DECLARED:
        if block == "target":
            assert f"{resource}: {', '.join(names(resource, block))}" in flat(result.out)
    assert "`launchbay resources TYPE`" in flat(result.out)


def test_queue_create_help_names_every_top_level_key_a_queue_config_takes(cli):
    from runners.catalog.queues import CONFIG_KEYS

    help_text = flat(cli("queue", "create", "--help").out)
    assert [key for key in CONFIG_KEYS if key not in help_text] == []


def test_resources_type_shows_each_declared_key_with_its_help(cli):
    result = cli("resources", "k8s")  # an alias names the same type
    assert result.code == 0
    assert result.out.startswith("resource:     kubernetes\n")
    lines = result.out.splitlines()
    for key in resource_type("kubernetes").config_keys("target"):
        assert any(line.split(maxsplit=1) == [key.name, key.help] for line in lines), key


def test_resources_json_holds_the_declared_keys_of_every_type(cli):
    one = json.loads(cli("resources", "vertex", "--json").out)
    assert [key["name"] for key in one["config_keys"]["resource_args"]] == ["spec", "run"]
    assert [key["name"] for key in one["config_keys"]["target"]] == names("vertex", "target")
    every = json.loads(cli("resources", "--json").out)
    assert [row["name"] for row in every] == [entry.name for entry in RESOURCE_TYPES]
    by_name = {row["name"]: row["config_keys"] for row in every}
    for resource, block in DECLARED:
        assert [key["name"] for key in by_name[resource][block]] == names(resource, block)


def test_resources_of_an_unknown_type_is_one_line_and_exit_2(cli):
    result = cli("resources", "mainframe")
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("launchbay: error: resource: unknown resource type 'mainframe'")
    assert len(result.err.splitlines()) == 1


def test_a_new_targets_keys_show_in_the_cli_from_its_registry_line_alone(
    cli, monkeypatch, tmp_path
):
    add_fake_target(monkeypatch, tmp_path / "fake")
    help_text = flat(cli("queue", "create", "--help").out)
    assert "fake-cloud: zone)" in help_text  # the last type listed
    described = cli("resources", "fake-cloud")
    assert described.code == 0
    assert ["zone", "The fake cloud's zone, e.g. moon-1."] in [
        line.split(maxsplit=1) for line in described.out.splitlines()
    ]


def test_reading_the_declarations_imports_neither_an_sdk_nor_pydantic():
    """`queue create --help` and `resources TYPE` start as fast as the rest of the CLI."""
    heavy = ("pydantic", "docker", "kubernetes", "boto3", "botocore", "grpc", "google.auth")
    heavy += ("google.cloud.aiplatform", "google.cloud.logging")
    commands = [["queue", "create", "--help"], ["resources", "vertex", "--json"]]
    assert modules_loaded_by_cli(commands, heavy) == []


@pytest.mark.parametrize(
    ("resource", "block", "value", "field", "message"),
    [
        ("ray", "target", {"address": "ftp://head"}, "target.address", "expected the Jobs API"),
        (
            "ray",
            "resource_args",
            {"entrypoint_num_cpus": "2"},
            "resource_args.entrypoint_num_cpus",
            "expected a number, 0 or more",
        ),
        ("slurm", "resource_args", {"time": "forever"}, "resource_args.time", "expected a Slurm"),
    ],
)
def test_a_validators_refusal_is_its_own_message_without_pydantics_prefix(
    resource, block, value, field, message
):
    with pytest.raises(BadInput) as caught:
        target_check(resource, block)(value)
    assert caught.value.field == field
    assert caught.value.message.startswith(message), caught.value.message

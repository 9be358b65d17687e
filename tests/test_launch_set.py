"""`launch --set KEY=VALUE`: run-config values typed by the job's input schema, YAML where it
says no type; a key the schema does not list is refused (exit 2, one line, nothing written)."""

import json
from enum import StrEnum

import pytest
from kit import make_queue, refusal_checker, write_code_job
from pydantic import BaseModel

SCHEMA = {
    "type": "object",
    "properties": {
        "lr": {"type": "number", "minimum": 0, "default": 0.1},
        "epochs": {"type": "integer", "maximum": 100, "default": 3},
        "name": {"type": "string", "default": "run"},
        "amp": {"type": "boolean", "default": False},
        "layers": {"type": "array", "items": {"type": "integer"}},
        "optim": {
            "type": "object",
            "properties": {"momentum": {"type": "number"}},
        },
        "extra": {"description": "no type: read as YAML"},
    },
}


@pytest.fixture
def job(store, cli, tmp_path):
    folder = write_code_job(tmp_path / "src", "pass")
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    make_queue(store)
    result = cli(
        "job", "create", "code", "train", str(folder), "--schema", str(tmp_path / "schema.json")
    )
    assert result.code == 0, result.err
    (tmp_path / "open.json").write_text(
        json.dumps({"type": "object", "properties": {}, "additionalProperties": True})
    )
    folder = write_code_job(tmp_path / "src2", "pass")
    assert (
        cli(
            "job", "create", "code", "free", str(folder), "--schema", str(tmp_path / "open.json")
        ).code
        == 0
    )


def _config(cli, *sets: str, job: str = "train") -> dict:
    args = [a for s in sets for a in ("--set", s)]
    result = cli("launch", "-j", job, "-q", "local", *args, "--dry-run")
    assert result.code == 0, result.err
    return json.loads(result.out)["run_config"]


def test_values_are_typed_by_the_schema(cli, job):
    config = _config(
        cli,
        "lr=1e-3",
        "epochs=7",
        "name=0.5",
        "amp=true",
        "layers=[64, 32]",
        "optim.momentum=0.9",
        "extra={a: 1}",
    )
    assert config == {
        "lr": 0.001,
        "epochs": 7,
        "name": "0.5",  # a string where the schema says string, though it looks like a number
        "amp": True,
        "layers": [64, 32],
        "optim": {"momentum": 0.9},
        "extra": {"a": 1},
    }


def test_set_wins_over_the_spec_and_is_enqueued(cli, store, job):
    result = cli(
        "launch",
        "-j",
        "train",
        "-q",
        "local",
        "-c",
        '{"overrides": {"run_config": {"lr": 0.5, "epochs": 9}}}',
        "--set",
        "lr=0.2",
    )
    assert result.code == 0, result.err
    item = store.items.get(int(result.out.strip()))
    assert item.launch["run_config"]["lr"] == 0.2
    assert item.launch["run_config"]["epochs"] == 9


def test_a_schema_with_additional_properties_takes_any_key_as_yaml(cli, job):
    assert _config(cli, "anything=3", "flag=no", "text=hello", job="free") == {
        "anything": 3,
        "flag": False,
        "text": "hello",
    }


@pytest.mark.parametrize(
    ("item", "fragments"),
    [
        ("lrr=0.1", ["--set lrr", "'lrr' is not in the job's input schema", "lr, epochs"]),
        ("optim.beta=0.1", ["--set optim.beta", "'beta' is not in optim"]),
        ("epochs=three", ["--set epochs", "not an integer"]),
        ("lr=fast", ["--set lr", "not a number"]),
        ("amp=maybe", ["--set amp", "not a boolean"]),
        ("layers=5", ["--set layers", "not an array"]),
        ("epochs=500", ["run_config.epochs", "expected an integer ≤ 100, got 500"]),
        ("noequals", ["--set", "expected KEY=VALUE"]),
        ("a..b=1", ["--set", "expected KEY=VALUE"]),
    ],
)
def test_bad_values_are_refused_and_nothing_is_enqueued(cli, db_path, job, item, fragments):
    refused = refusal_checker(cli, db_path)
    refused(["launch", "-j", "train", "-q", "local", "--set", item], *fragments)


class _Switch(StrEnum):
    on = "on"  # YAML 1.1 would read a bare `on` as true
    off = "off"


class _Data(BaseModel):
    tag: str = "v1"
    mode: _Switch = _Switch.off


class _Pydantic(BaseModel):
    data: _Data = _Data()  # a $ref
    note: str | None = None  # an Optional's anyOf
    extra: _Data | None = None  # a $ref inside an Optional


def test_a_pydantic_schema_types_values_through_its_refs_and_optionals(
    cli, store, db_path, tmp_path
):
    # pydantic writes a nested model as a $ref and an Optional as anyOf [X, null]: --set
    # follows both, as the launch form does, so "123" stays a string and `on` the enum's text.
    folder = write_code_job(tmp_path / "src3", "pass")
    (tmp_path / "pydantic.json").write_text(json.dumps(_Pydantic.model_json_schema()))
    make_queue(store)
    schema_file = str(tmp_path / "pydantic.json")
    created = cli("job", "create", "code", "typed", str(folder), "--schema", schema_file)
    assert created.code == 0, created.err
    sets = ("data.tag=123", "data.mode=on", "note=007", "extra.tag=2", "extra.mode=off")
    assert _config(cli, *sets, job="typed") == {
        "data": {"tag": "123", "mode": "on"},
        "note": "007",
        "extra": {"tag": "2", "mode": "off"},
    }
    assert _config(cli, "note=null", job="typed")["note"] is None
    refused = refusal_checker(cli, db_path)
    refused(
        ["launch", "-j", "typed", "-q", "local", "--set", "data.tga=x"],
        "--set data.tga: 'tga' is not in data; expected one of tag, mode",
    )

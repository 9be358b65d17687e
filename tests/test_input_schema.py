"""Job input schemas are JSON Schema (runners/launch/schema/): the draft from `$schema`, the
keywords pydantic emits, local `$ref`s only, defaults filled through `$ref` and Optional, the
schema checked at `job create`, and every refusal one line naming the field."""

import http.server
import json
import threading

import pytest
from kit import make_queue, refusal_checker, write_code_job
from pydantic import BaseModel, ConfigDict, Field
from schema_models import TRAIN_CONFIG_DEFAULTS, Schema, TrainConfig

from runners.launch.schema import (
    build_run_config,
    check_input_schema,
    check_variable_schema,
    compiled,
    parse_variable,
)
from store import BadInput


def _object(**properties) -> dict:
    return {"type": "object", "properties": properties}


def refused(schema: dict, run_config: dict) -> str:
    with pytest.raises(BadInput) as caught:
        build_run_config(schema, run_config)
    return str(caught.value)


def schema_refused(schema: dict) -> str:
    with pytest.raises(BadInput) as caught:
        check_input_schema(schema, "--schema")
    return str(caught.value)


# --- drafts --------------------------------------------------------------------------------


def test_without_schema_keyword_the_draft_is_2020_12():
    assert compiled(_object()).validator_class.__name__ == "Draft202012Validator"
    # prefixItems is 2020-12's tuple form
    schema = _object(
        pair={"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}
    )
    assert build_run_config(schema, {"pair": [1, "a"]}) == {"pair": [1, "a"]}
    assert refused(schema, {"pair": ["a", "a"]}) == (
        "run_config.pair[0]: expected an integer, got 'a'"
    )


def test_a_draft_07_schema_with_definitions_is_validated_as_draft_07():
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"Size": {"type": "integer", "exclusiveMinimum": 0, "default": 8}},
        **_object(size={"$ref": "#/definitions/Size"}),
    }
    assert compiled(schema).validator_class.__name__ == "Draft7Validator"
    assert build_run_config(schema, {}) == {"size": 8}
    assert refused(schema, {"size": 0}) == "run_config.size: expected an integer > 0, got 0"


def test_draft_04s_boolean_exclusive_minimum_is_refused_unless_the_schema_declares_draft_04():
    bare = _object(lr={"type": "number", "minimum": 0, "exclusiveMinimum": True})
    assert schema_refused(bare) == (
        "--schema.properties.lr.exclusiveMinimum: True is draft-04's form; expected a number"
        ' (exclusiveMinimum: 0 means > 0), or "$schema": "http://json-schema.org/draft-04/schema#"'
    )
    declared = {"$schema": "http://json-schema.org/draft-04/schema#", **bare}
    assert check_input_schema(declared) == declared
    assert build_run_config(declared, {"lr": 0.5}) == {"lr": 0.5}
    assert refused(declared, {"lr": 0}) == "run_config.lr: expected a number > 0, got 0"


@pytest.mark.parametrize(
    "declared", ["http://json-schema.org/draft-03/schema#", "https://example.com/my-dialect"]
)
def test_an_unknown_or_unsupported_draft_is_refused(declared):
    line = schema_refused({"$schema": declared, **_object()})
    assert line.startswith(f"--schema.$schema: {declared!r}; expected one of ")
    assert "http://json-schema.org/draft-07/schema#" in line


# --- keywords ------------------------------------------------------------------------------

KEYWORDS = _object(
    kind={"const": "resnet"},
    mode={"enum": ["fast", "slow"]},
    name={"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 8},
    sizes={"type": "array", "items": {"type": "integer", "minimum": 1}},
    lr={"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    seed={"anyOf": [{"type": "integer"}, {"type": "null"}]},
    source={"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]},
    when={"type": "string", "format": "date-time"},
    extra={"type": "object", "additionalProperties": {"type": "number"}},
)


@pytest.mark.parametrize(
    ("run_config", "line"),
    [
        ({"kind": "vit"}, "run_config.kind: expected 'resnet', got 'vit'"),
        ({"mode": "medium"}, "run_config.mode: expected one of 'fast', 'slow', got 'medium'"),
        (
            {"name": "A1"},
            "run_config.name: expected a string of 2 to 8 characters matching '^[a-z]+$', got 'A1'",
        ),
        ({"name": "a"}, "run_config.name: expected a string of 2 to 8 characters"),
        ({"sizes": [1, 0]}, "run_config.sizes[1]: expected an integer ≥ 1, got 0"),
        ({"lr": 1}, "run_config.lr: expected a number > 0 and < 1, got 1"),
        ({"seed": 1.5}, "run_config.seed: expected an integer or null, got 1.5"),
        ({"source": -1}, "run_config.source: expected a string or an integer ≥ 0, got -1"),
        ({"extra": {"a": "b"}}, "run_config.extra.a: expected a number, got 'b'"),
        ({"other": 1}, "run_config.other: is not in the job's input schema; expected one of kind"),
        ({"lr": float("inf")}, "run_config.lr: expected a finite number, got inf"),
    ],
)
def test_each_keyword_refuses_with_the_fields_line(run_config, line):
    assert refused(KEYWORDS, run_config).startswith(line)


def test_values_every_keyword_allows_are_accepted_and_format_is_not_asserted():
    run_config = {
        "kind": "resnet",
        "mode": "fast",
        "name": "abc",
        "sizes": [1, 2],
        "lr": 0.5,
        "seed": None,
        "source": "hub",
        "when": "not a date",  # format: an annotation, as JSON Schema's default says
        "extra": {"a": 1.5, "b": 2},
    }
    assert build_run_config(KEYWORDS, run_config) == run_config


def test_one_of_matching_twice_says_so():
    schema = _object(n={"oneOf": [{"type": "integer"}, {"type": "number"}]})
    assert refused(schema, {"n": 3}) == (
        "run_config.n: 3 fits more than one choice; expected exactly one of: an integer or a number"
    )


def test_required_and_additional_properties():
    schema = {
        **_object(lr={"type": "number"}, epochs={"type": "integer"}),
        "required": ["epochs"],
    }
    assert refused(schema, {"lr": 0.1}) == "run_config.epochs: is required but missing"
    opened = {**schema, "additionalProperties": True}
    assert build_run_config(opened, {"epochs": 1, "notes": "x"}) == {"epochs": 1, "notes": "x"}
    patterned = {
        **schema,
        "patternProperties": {"^x_": {"type": "integer"}},
        "additionalProperties": False,
    }
    assert build_run_config(patterned, {"epochs": 1, "x_a": 2}) == {"epochs": 1, "x_a": 2}
    assert refused(patterned, {"epochs": 1, "x_a": 2, "y": 3}) == (
        "run_config.y: is not in the job's input schema; expected one of lr, epochs"
    )


def test_a_typo_of_a_keyword_is_refused_and_other_unknown_keywords_are_annotations():
    assert schema_refused(_object(lr={"type": "number", "exclusiveMinimun": 0})) == (
        "--schema.properties.lr.exclusiveMinimun: unknown keyword; did you mean exclusiveMinimum?"
    )
    # W&B's launch drawer reads label and placeholder; x- is everyone's extension prefix;
    # OpenAPI's `example` (pydantic's json_schema_extra) is no typo of `examples`.
    annotated = _object(
        lr={"type": "number", "label": "LR", "placeholder": "0.1", "x-ui": {}, "example": 0.1}
    )
    assert check_input_schema(annotated) == annotated


def test_wandbs_required_true_on_a_property_makes_it_required():
    """W&B's META_SCHEMA (wandb/sdk/launch/inputs/schema.py) has `required` as a boolean."""
    schema = _object(lr={"type": "number", "required": True}, seed={"type": "integer"})
    check_input_schema(schema)
    assert refused(schema, {"seed": 1}) == "run_config.lr: is required but missing"
    assert build_run_config(schema, {"lr": 0.1}) == {"lr": 0.1}


def test_the_schema_itself_is_checked_with_one_line_naming_where():
    assert schema_refused(_object(n={"type": "integer", "minimum": "1"})) == (
        "--schema.properties.n.minimum: expected a number, got '1'"
    )
    assert schema_refused(_object(n={"type": "string", "pattern": "("})) == (
        "--schema.properties.n.pattern: '(' is not a valid regex"
    )
    assert schema_refused(_object(n={"type": "integer", "default": 1.5})) == (
        "--schema.properties.n.default: expected an integer, got 1.5"
    )


# --- references ----------------------------------------------------------------------------


@pytest.fixture
def counting_server():
    """An HTTP server on 127.0.0.1 that counts the requests it gets."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = json.dumps({"type": "integer"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    thread.join()
    server.server_close()


def test_a_remote_ref_is_refused_and_never_fetched(counting_server):
    base, hits = counting_server
    for ref in (f"{base}/size.json", "size.json", f"{base}/s.json#/$defs/Size"):
        line = schema_refused(_object(size={"$ref": ref}))
        assert line == (
            f"--schema.properties.size.$ref: {ref!r} is outside the schema; expected a local"
            " reference (#/$defs/NAME): launchbay never fetches a schema"
        )
    assert hits == []


def test_a_ref_to_nowhere_is_refused():
    assert schema_refused(_object(size={"$ref": "#/$defs/Size"})) == (
        "--schema.properties.size.$ref: '#/$defs/Size' points nowhere in the schema"
    )


def test_defaults_are_filled_through_refs_optional_and_nested_objects():
    schema = {
        "$defs": {
            "Optim": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "default": "adam"},
                    "beta": {"type": "number", "default": 0.9},
                },
            }
        },
        **_object(
            optim={"$ref": "#/$defs/Optim", "default": {"name": "sgd"}},
            ema={"anyOf": [{"$ref": "#/$defs/Optim"}, {"type": "null"}], "default": None},
        ),
    }
    assert build_run_config(schema, {}) == {"optim": {"name": "sgd", "beta": 0.9}, "ema": None}
    assert build_run_config(schema, {"ema": {"beta": 0.5}}) == {
        "optim": {"name": "sgd", "beta": 0.9},
        "ema": {"name": "adam", "beta": 0.5},
    }


def test_a_schema_is_compiled_once_for_the_same_text():
    schema = _object(lr={"type": "number"})
    assert compiled(schema) is compiled(json.loads(json.dumps(schema)))
    assert compiled(schema, check=False) is compiled(schema)  # a checked one serves both


def test_a_schema_compiled_unchecked_at_launch_is_still_checked_when_asked():
    schema = _object(n={"type": "integer", "default": "three"})
    assert compiled(schema, check=False).checked is False  # a launch trusts the store's copy
    assert (
        schema_refused(schema) == "--schema.properties.n.default: expected an integer, got 'three'"
    )


# --- pydantic models as they are ------------------------------------------------------------


def test_a_pydantic_models_schema_is_accepted_and_the_config_is_valid_for_the_model():
    schema = TrainConfig.model_json_schema()
    assert check_input_schema(schema) == schema
    config = build_run_config(schema, {"scheduler": {"kind": "step"}, "seed": 7})
    assert config == {
        **TRAIN_CONFIG_DEFAULTS,
        "scheduler": {"kind": "step", "warmup_steps": 0},
        "seed": 7,
    }
    assert TrainConfig.model_validate(config).model_dump(mode="json") == config


def test_a_pydantic_models_bad_values_are_refused_as_the_model_refuses_them():
    schema = Schema.model_json_schema()
    bad = {"seed": 1, "trainer": {"learning_rate": 0, "batch_size": 1, "dataset": "cifar10"}}
    assert refused(schema, bad) == "run_config.trainer.learning_rate: expected a number > 0, got 0"
    with pytest.raises(ValueError):
        Schema.model_validate(bad)


def test_a_mapping_for_an_optional_model_names_its_wrong_key():
    # `scheduler: Scheduler | None`: a mapping is meant as a Scheduler, so a misspelt key is
    # named, not "expected a mapping (Scheduler) or null" of a value that is a mapping.
    schema = TrainConfig.model_json_schema()
    assert refused(schema, {"scheduler": {"warmup": 5}}) == (
        "run_config.scheduler.warmup: is not in the job's input schema;"
        " expected one of kind, warmup_steps"
    )
    assert refused(schema, {"scheduler": 5}) == (
        "run_config.scheduler: expected a mapping (Scheduler) or null, got 5"
    )


def test_pydantic_extra_settings_open_or_close_the_object():
    class Forbid(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = 0.1

    class Allow(BaseModel):
        model_config = ConfigDict(extra="allow")
        lr: float = 0.1

    class Tagged(BaseModel):  # a dict field: open, with typed values
        weights: dict[str, float] = Field(default_factory=dict)

    assert refused(Forbid.model_json_schema(), {"x": 1}).startswith("run_config.x: is not in")
    assert build_run_config(Allow.model_json_schema(), {"x": 1}) == {"lr": 0.1, "x": 1}
    assert build_run_config(Tagged.model_json_schema(), {"weights": {"a": 1.0}}) == {
        "weights": {"a": 1.0}
    }


# --- template variables --------------------------------------------------------------------


def test_a_template_variable_schema_takes_json_schema_keywords():
    schema = {"type": "string", "pattern": "^[a-z]+$", "default": "main"}
    assert check_variable_schema("branch", schema) == schema
    assert parse_variable("branch", schema, "dev") == "dev"
    with pytest.raises(BadInput) as caught:
        parse_variable("branch", schema, "Dev 1")
    assert (
        str(caught.value) == "--set-var branch: expected a string matching '^[a-z]+$', got 'Dev 1'"
    )
    with pytest.raises(BadInput) as caught:
        check_variable_schema("gpus", {"type": "integer", "maximun": 8})
    assert str(caught.value) == (
        "template_variables.gpus.maximun: unknown keyword; did you mean maximum?"
    )


# --- through the CLI -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "line"),
    [
        (
            _object(lr={"type": "number", "exclusiveMinimum": True}),
            "--schema.properties.lr.exclusiveMinimum: True is draft-04's form",
        ),
        (
            _object(lr={"$ref": "https://example.com/lr.json"}),
            "--schema.properties.lr.$ref: 'https://example.com/lr.json' is outside the schema",
        ),
    ],
)
def test_job_create_refuses_a_bad_schema_with_one_line(cli, store, db_path, tmp_path, schema, line):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    src = write_code_job(tmp_path / "src", "print(0)\n")
    refused_by_cli = refusal_checker(cli, db_path)
    refused_by_cli(["job", "create", "code", "train", str(src), "--schema", str(path)], line)


def test_a_pydantic_schema_file_launches_with_its_defaults(cli, store, tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(TrainConfig.model_json_schema()))
    src = write_code_job(tmp_path / "src", "print(0)\n")
    assert cli("job", "create", "code", "train", str(src), "--schema", str(path)).code == 0
    make_queue(store, "local")
    spec = json.dumps({"overrides": {"run_config": {"epochs": 3}}})
    result = cli("launch", "-j", "train", "-q", "local", "-c", spec, "--dry-run")
    assert result.code == 0, result.err
    assert json.loads(result.out)["run_config"] == {**TRAIN_CONFIG_DEFAULTS, "epochs": 3}


def test_the_launch_schema_benchmark_runs_and_prints_its_lines():
    from kit import bench_results

    lines = bench_results("launch_schema.py")
    assert lines["launch_schema.dry_run_launches"]["launches"] == 100
    launches = lines["launch_schema.dry_run_launches"]
    assert launches["value"] > 0 and launches["baseline_no_schema"] > 0
    assert launches["ratio"] > 0  # value / baseline, of unrounded times
    assert lines["launch_schema.run_config_check_each"]["unit"] == "us"


def test_jsonschema_is_imported_only_once_a_schema_is_read(db_path, tmp_path):
    from kit import modules_loaded_by_cli

    src = write_code_job(tmp_path / "src", "print(0)\n")
    without = [["--db", str(db_path), "job", "create", "code", "plain", str(src)]]
    assert modules_loaded_by_cli(without, ("jsonschema", "referencing")) == []
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(_object(lr={"type": "number"})))
    create = ["--db", str(db_path), "job", "create", "code", "typed", str(src), "--schema"]
    assert "jsonschema" in modules_loaded_by_cli([[*create, str(path)]], ("jsonschema",))

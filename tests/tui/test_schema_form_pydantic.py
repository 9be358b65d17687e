"""The schema form with a pydantic-generated schema (tests/schema_models.py's TrainConfig):
each property gets the field its followed schema calls for (a choice for an enum behind a
`$ref` or a Literal, a typed input for an Optional number, a switch for a boolean), and what the
form cannot edit (a nested model, a list, a union of types) is YAML text, parsed and checked
against the property's own schema. A schema the form cannot read never crashes it."""

import json

from helpers_tui import settle
from kit import make_code_job, make_queue
from schema_models import TRAIN_CONFIG_DEFAULTS, TrainConfig
from test_launch_form import items_enqueued
from textual.app import App, ComposeResult
from textual.widgets import Input, Select, Switch

from tui.screens.launch import LaunchScreen
from tui.widgets.schema_form import SchemaForm

SCHEMA = TrainConfig.model_json_schema()


class FormApp(App):
    def compose(self) -> ComposeResult:
        yield SchemaForm("run_config", id="form")


async def _form(pilot, root: dict, initial: dict | None = None) -> SchemaForm:
    form = pilot.app.query_one(SchemaForm)
    properties = root["properties"]
    await form.set_schema(properties, initial or {}, "(no properties)", root=root)
    await settle(pilot, lambda: len(form.fields) == len(properties), "the fields")
    return form


def _widgets(form: SchemaForm) -> dict[str, str]:
    return {
        field.field_name: f"{type(field.query_one('#value')).__name__}:{field.shape.kind}"
        for field in form.fields
    }


async def test_each_property_gets_the_field_its_followed_schema_calls_for():
    async with FormApp().run_test(size=(120, 80)) as pilot:
        form = await _form(pilot, SCHEMA)
        assert _widgets(form) == {
            "lr": "Input:number",
            "epochs": "Input:integer",
            "optimizer": "Select:choice",  # an enum behind a $ref
            "precision": "Select:choice",  # a Literal
            "seed": "Input:integer",  # Optional[int]: the anyOf followed, null allowed
            "compile": "Switch:boolean",
            "run_name": "Input:string",
            "tags": "Input:yaml",
            "layers": "Input:yaml",
            "augment": "Input:yaml",  # a nested model
            "scheduler": "Input:yaml",  # Optional[a nested model]
        }
        fields = {field.field_name: field for field in form.fields}
        assert fields["optimizer"].shape.choices == ("adam", "sgd")
        assert fields["seed"].shape.nullable
        hint = str(fields["seed"].query_one(".field-hint").render())
        assert hint == "integer or null · default null"
        assert str(fields["augment"].query_one(".field-hint").render()) == (
            'YAML: a mapping (Augment) · default {"flip": true, "crop": null}'
        )
        # Left alone, every field is unset: the schema's defaults apply.
        assert form.errors() == [] and form.values() == {}


async def test_values_typed_into_every_kind_of_field_are_typed_and_checked():
    async with FormApp().run_test(size=(120, 80)) as pilot:
        form = await _form(pilot, SCHEMA)
        form.set_values(
            {
                "optimizer": "sgd",
                "seed": 7,
                "compile": True,
                "tags": ["a", "b"],
                "augment": {"crop": 16},
                "scheduler": {"kind": "step"},
            }
        )
        await pilot.pause()
        assert form.errors() == []
        assert form.values() == {
            "optimizer": "sgd",
            "seed": 7,
            "compile": True,
            "tags": ["a", "b"],
            "augment": {"crop": 16},
            "scheduler": {"kind": "step"},
        }
        fields = {field.field_name: field for field in form.fields}
        fields["seed"].query_one(Input).value = "null"
        fields["augment"].query_one(Input).value = "{flip: false}"  # YAML, not only JSON
        await pilot.pause()
        assert form.values()["seed"] is None
        assert form.values()["augment"] == {"flip": False}


async def test_bad_values_are_refused_with_the_fields_line():
    async with FormApp().run_test(size=(120, 80)) as pilot:
        form = await _form(pilot, SCHEMA)
        typed = {
            "lr": "0",
            "seed": "x",
            "run_name": "Big Run",
            "layers": "[64, wide]",
            "augment": "{crop: 4}",
            "scheduler": "{kind: linear}",
            "tags": "{a: ",
        }
        for field in form.fields:
            if field.field_name in typed:
                field.query_one(Input).value = typed[field.field_name]
        await pilot.pause()
        errors = form.errors()
        assert errors[:6] == [
            "run_config.lr: expected a number > 0, got 0.0",
            "run_config.seed: expected an integer or null, got 'x'",
            "run_config.run_name: expected a string of at least 3 characters matching"
            " '^[a-z0-9-]+$', got 'Big Run'",
            "run_config.tags: malformed YAML in the field (line 1, column 4): expected the node"
            " content, but found '<stream end>'",
            "run_config.layers[1]: expected an integer, got 'wide'",
            "run_config.augment.crop: expected an integer ≥ 8 or null, got 4",
        ]
        assert errors[6:] == [
            "run_config.scheduler.kind: expected one of 'cosine', 'step', got 'linear'"
        ]
        assert form.values() == {}
        invalid = {field.field_name for field in form.fields if field.has_class("-invalid")}
        assert invalid == set(typed)


async def test_a_union_of_types_and_an_unreadable_schema_fall_back_to_yaml_fields():
    union = {
        "type": "object",
        "properties": {"size": {"anyOf": [{"type": "integer"}, {"type": "string"}]}},
    }
    broken = {"type": "object", "properties": {"a": {"$ref": "#/$defs/Gone"}}}
    async with FormApp().run_test(size=(100, 30)) as pilot:
        form = await _form(pilot, union)
        assert _widgets(form) == {"size": "Input:yaml"}
        form.set_values({"size": "big"})
        await pilot.pause()
        assert form.values() == {"size": "big"}
        form.query_one(Input).value = "[1]"
        await pilot.pause()
        assert form.errors() == ["run_config.size: expected an integer or a string, got [1]"]

        form = await _form(pilot, broken)  # a store written before this check existed
        assert _widgets(form) == {"a": "Input:yaml"}
        form.query_one(Input).value = "1"
        await pilot.pause()
        assert form.errors() == [
            "schema.properties.a.$ref: '#/$defs/Gone' points nowhere in the schema"
        ]


async def test_the_launch_form_enqueues_a_pydantic_jobs_config(make_app, store, tmp_path):
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    make_code_job(store, tmp_path, "train", "print('hi')", schema_path=str(schema_file))
    make_queue(store, "local")
    app = make_app()
    async with app.run_test(size=(140, 60)) as pilot:
        await pilot.pause()
        app.push_screen(LaunchScreen(job="train", queue="local"))
        screen = await settle(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen)
        await settle(
            pilot,
            lambda: (
                len(screen.query("SchemaField")) == len(SCHEMA["properties"])
                and not screen._rebuilding.locked()
            ),
            "the generated fields",
        )
        screen.query_one("#field-run_config-augment #value", Input).value = "{crop: 32}"
        screen.query_one("#field-run_config-optimizer #value", Select).value = 1
        screen.query_one("#field-run_config-compile #value", Switch).value = True
        await settle(
            pilot,
            lambda: (
                screen.form_error is None
                and '"crop": 32' in str(screen.query_one("#launch-preview").render())
            ),
            "the preview to follow",
        )
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: not isinstance(app.screen, LaunchScreen), "enqueued")
    assert items_enqueued(store) == 1
    item = store.items.get(store.conn.execute("SELECT MAX(id) FROM queue_items").fetchone()[0])
    assert item.launch["run_config"] == {
        **TRAIN_CONFIG_DEFAULTS,
        "augment": {"flip": True, "crop": 32},
        "optimizer": "sgd",
        "compile": True,
    }


async def test_a_choice_tells_true_from_1_and_leaves_a_value_it_does_not_offer_blank():
    root = {"type": "object", "properties": {"n": {"enum": [1, "one", None]}}}
    async with FormApp().run_test(size=(100, 30)) as pilot:
        form = await _form(pilot, root, {"n": True})  # True == 1, but is no choice here
        assert form.values() == {}
        form.set_values({"n": 1.0})
        await pilot.pause()
        assert form.values() == {"n": 1}
        form.set_values({"n": None})
        await pilot.pause()
        assert form.values() == {"n": None}

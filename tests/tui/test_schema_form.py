"""The schema form (tui/widgets/schema_form.py), on its own: fields built from a schema,
`values()` typed, `errors()` naming the field and what was expected, `set_values()` filling
every kind of field, and a hint when the schema has no properties."""

from helpers_tui import settle
from textual.app import App, ComposeResult

from tui.widgets.schema_form import SchemaForm

PROPERTIES = {
    "epochs": {"type": "integer", "minimum": 1, "maximum": 100, "default": 3},
    "lr": {"type": "number"},
    "fast": {"type": "boolean", "default": False},
    "optimizer": {"type": "string", "enum": ["adam", "sgd"]},
    "layers": {"type": "array"},
}


class FormApp(App):
    def compose(self) -> ComposeResult:
        yield SchemaForm("cfg", id="form")


async def _form(pilot, initial: dict) -> SchemaForm:
    form = pilot.app.query_one(SchemaForm)
    await form.set_schema(PROPERTIES, initial, "(no properties)")
    await settle(pilot, lambda: len(form.fields) == len(PROPERTIES), "the fields")
    return form


async def test_values_are_typed_and_empty_fields_left_out():
    app = FormApp()
    async with app.run_test(size=(100, 60)) as pilot:
        form = await _form(pilot, {"epochs": 7, "optimizer": "sgd"})
        assert form.names == set(PROPERTIES)
        assert form.errors() == []
        assert form.values() == {"epochs": 7, "optimizer": "sgd"}
        form.set_values({"lr": 0.5, "fast": True, "layers": [64, 32], "optimizer": "adam"})
        await pilot.pause()
        assert form.values() == {"lr": 0.5, "fast": True, "layers": [64, 32], "optimizer": "adam"}


async def test_errors_name_the_field_and_what_was_expected_and_mark_it():
    app = FormApp()
    async with app.run_test(size=(100, 60)) as pilot:
        form = await _form(pilot, {})
        form.set_values({"epochs": 500, "lr": "fast"})
        await pilot.pause()
        errors = form.errors()
        assert len(errors) == 2
        assert "epochs" in errors[0] and "100" in errors[0]
        assert errors[1] == "--set-var lr: expected a number, got 'fast'"
        assert "epochs" not in form.values() and "lr" not in form.values()
        invalid = [field.field_name for field in form.fields if field.has_class("-invalid")]
        assert invalid == ["epochs", "lr"]
        form.set_values({"epochs": 5})
        await pilot.pause()
        assert form.errors() == [] and form.values() == {"epochs": 5}
        assert not any(field.has_class("-invalid") for field in form.fields)


async def test_a_schema_without_properties_shows_the_hint():
    app = FormApp()
    async with app.run_test(size=(100, 20)) as pilot:
        form = app.query_one(SchemaForm)
        await form.set_schema({}, {}, "(no properties)")
        await pilot.pause()
        assert form.fields == [] and form.values() == {} and form.errors() == []
        assert "(no properties)" in str(form.query_one(".hint").render())

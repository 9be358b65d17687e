"""A form generated from a JSON Schema: one field per property (the launch form's run config
and template variables; any screen that edits values a schema describes).

`SchemaForm` holds the fields: `set_schema` builds them, `values()` reads the typed values,
`errors()` says what is wrong, `set_values()` fills them in. Each `SchemaField` edits one
property as its shape says (runners.launch.schema.fields: a choice, a switch, a typed input, or
YAML text for what the form cannot edit), turns what was typed into a value, and checks it
against the property's schema — in the UI thread (pure functions, no I/O).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Select, Static, Switch

from runners.launch.documents import parse_yaml
from runners.launch.schema import check_value, compiled
from runners.launch.schema.fields import NO_DEFAULT, FieldShape, field_shape
from store import BadInput

UNSET: Any = object()  # the field was left empty: the schema's default (or nothing) applies
_ID_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
Check = Callable[[Any, str], None]  # (value, field label) → raises BadInput when it is wrong


def field_id(kind: str, name: str) -> str:
    """A valid widget id for any property name: `lr` → field-run_config-lr.

    A schema accepts any name (`lr.decay`, `batch size`), a widget id only [A-Za-z0-9_-]:
    every other character, `-` included, is written `-HEX-`, so two names never share an id
    (`lr.decay` → field-run_config-lr-2e-decay)."""
    safe = "".join(c if c in _ID_SAFE else f"-{ord(c):x}-" for c in name)
    return f"field-{kind}-{safe}"


def _as_text(value: Any, kind: str) -> str:
    """How a value is typed into a text field: a string as it is (YAML: quoted), else JSON —
    which YAML reads back as the same value."""
    return value if isinstance(value, str) and kind != "yaml" else json.dumps(value)


def describe_schema(shape: FieldShape) -> str:
    """'integer · 1…64 · default 4' — the hint shown under a field."""
    flat = shape.flat
    if shape.kind == "yaml":
        parts = [f"YAML: {shape.expected}"]
    else:
        parts = [str(flat.get("type", "any")) + (" or null" if shape.nullable else "")]
        low, high = flat.get("minimum"), flat.get("maximum")
        if low is not None or high is not None:
            parts.append(f"{'' if low is None else low}…{'' if high is None else high}")
    if shape.default is not NO_DEFAULT:
        parts.append(f"default {json.dumps(shape.default)}")
    if flat.get("description"):
        parts.append(flat["description"])
    return " · ".join(str(p) for p in parts)


class SchemaField(Vertical):
    """A labelled input for one property, as its FieldShape says."""

    DEFAULT_CSS = """
    SchemaField { height: auto; margin: 0 0 1 0; }
    SchemaField > .field-hint { color: $text-muted; }
    SchemaField > .field-error { color: $error; display: none; }
    SchemaField.-invalid > .field-error { display: block; }
    SchemaField.-invalid Input { border: tall $error; }
    """

    def __init__(
        self, kind: str, name: str, shape: FieldShape, check: Check, initial: Any = UNSET
    ) -> None:
        """`kind` names the form (the launch's "run_config" or "var"): it prefixes the field's id
        and its error. `check(value, label)` raises BadInput when the value is wrong."""
        super().__init__(id=field_id(kind, name), classes="schema-field")
        self.kind, self.field_name, self.shape, self.check = kind, name, shape, check
        self.initial = initial
        self.error: str | None = None

    @property
    def label(self) -> str:
        return (
            f"run_config.{self.field_name}"
            if self.kind == "run_config"
            else f"--set-var {self.field_name}"
        )

    def compose(self) -> ComposeResult:
        yield Label(Text(self.field_name, style="bold"))  # any name, never markup
        shape, initial = self.shape, self.initial
        if shape.kind == "choice":
            options = [  # Text: a choice is shown as it is, never read as markup
                (Text(v if isinstance(v, str) else json.dumps(v)), i)
                for i, v in enumerate(shape.choices)
            ]
            index = None if initial is UNSET else _index(shape.choices, initial)
            value = Select.NULL if index is None else index
            yield Select(options, value=value, prompt="(default)", id="value")
        elif shape.kind == "boolean":
            default = shape.default if isinstance(shape.default, bool) else False
            yield Switch(value=default if initial is UNSET else bool(initial), id="value")
        else:
            text = "" if initial is UNSET else _as_text(initial, shape.kind)
            yield Input(value=text, placeholder=describe_schema(shape), id="value")
        yield Static(Text(describe_schema(shape)), classes="field-hint")
        yield Static("", classes="field-error")

    def value(self) -> Any:
        """The typed value, UNSET when left empty. Raises BadInput when it can't be one."""
        widget = self.query_one("#value")
        if isinstance(widget, Select):
            return UNSET if widget.value is Select.NULL else self.shape.choices[widget.value]
        if isinstance(widget, Switch):
            if widget.value == self.shape.default:
                return UNSET
            return widget.value
        text = widget.value.strip()
        if not text:
            return UNSET
        kind = self.shape.kind
        if kind == "yaml":
            return parse_yaml(text, self.label, "the field")
        if self.shape.nullable and text == "null":
            return None
        try:
            return {"integer": int, "number": float}.get(kind, str)(text)
        except ValueError:
            raise BadInput(self.label, f"expected {self.shape.expected}, got {text!r}") from None

    def validate_now(self) -> Any:
        """Check the value; marks the field and keeps the reason. Returns the value or UNSET."""
        try:
            value = self.value()
            if value is not UNSET:
                self.check(value, self.label)
        except BadInput as exc:
            self.error = str(exc)
            value = UNSET
        else:
            self.error = None
        self.set_class(self.error is not None, "-invalid")
        self.query_one(".field-error", Static).update(Text(self.error or ""))
        return value

    def set_value(self, value: Any) -> None:
        """Show `value` (UNSET: empty; a switch then keeps its state; a value not among the
        choices leaves the choice blank)."""
        widget = self.query_one("#value")
        if isinstance(widget, Input):
            widget.value = "" if value is UNSET else _as_text(value, self.shape.kind)
        elif isinstance(widget, Switch) and value is not UNSET:
            widget.value = bool(value)
        elif isinstance(widget, Select):
            index = _index(self.shape.choices, value)
            widget.value = Select.NULL if index is None else index


def _index(choices: tuple, value: Any) -> int | None:
    """The position of `value` among `choices` (True is not 1, 0 is not False; 1.0 is 1);
    None when it is not one of them."""
    return next(
        (
            i
            for i, choice in enumerate(choices)
            if choice == value and isinstance(choice, bool) == isinstance(value, bool)
        ),
        None,
    )


def _fields_for(kind: str, properties: dict, initial: dict, root: dict | None) -> list[SchemaField]:
    """One field per property. With `root`, the properties are its own (their `$ref`s resolve
    in it); without, each property is a schema of its own (a template variable)."""
    fields = []
    for name, prop in properties.items():
        document = root if root is not None else prop
        try:
            schema = compiled(document, check=False)
            if root is not None:  # launchbay's reading of it: objects closed, W&B's required
                prop = schema.schema.get("properties", {}).get(name, prop)
            shape = field_shape(schema, prop)
        except BadInput:  # a schema the store holds is checked; a form never crashes on one
            shape = FieldShape("yaml", prop, {})

        def check(value, label, document=document, part=prop if root is not None else None):
            check_value(value, document, label, part)

        fields.append(SchemaField(kind, name, shape, check, initial.get(name, UNSET)))
    return fields


class SchemaForm(Vertical):
    """The fields of one schema's properties, or a hint when it has none."""

    DEFAULT_CSS = """
    SchemaForm { height: auto; }
    """

    def __init__(self, kind: str, *, id: str | None = None, classes: str | None = None) -> None:
        """`kind` prefixes each field's id and error (see SchemaField)."""
        super().__init__(id=id, classes=classes)
        self.kind = kind

    async def set_schema(
        self, properties: dict, initial: dict, empty_text: str, root: dict | None = None
    ) -> None:
        """Replace the fields: one per property, filled from `initial`; `empty_text` shown
        when there are no properties. `root`: the schema the properties belong to, where
        their `$ref`s resolve (a job's input schema); without it each is a whole schema."""
        await self.remove_children()
        if properties:
            await self.mount_all(_fields_for(self.kind, properties, initial, root))
        else:
            await self.mount(Static(empty_text, classes="hint"))

    @property
    def fields(self) -> list[SchemaField]:
        return list(self.query_children(SchemaField))

    @property
    def names(self) -> set[str]:
        """The properties the form has a field for."""
        return {field.field_name for field in self.fields}

    def errors(self) -> list[str]:
        """Check every field (each one marked, and its reason shown); what is wrong, in order."""
        errors = []
        for field in self.fields:
            field.validate_now()
            if field.error:
                errors.append(field.error)
        return errors

    def values(self) -> dict[str, Any]:
        """The typed value of each field that is filled in and valid (checked, and marked)."""
        values = {}
        for field in self.fields:
            value = field.validate_now()
            if value is not UNSET:
                values[field.field_name] = value
        return values

    def set_values(self, values: dict[str, Any]) -> None:
        """Fill each field from `values` (a field it has no value for is emptied)."""
        for field in self.fields:
            field.set_value(values.get(field.field_name, UNSET))

"""A form generated from a JSON-Schema subset: one field per property (the launch form's run
config and template variables; any screen that edits values a schema describes).

`SchemaForm` holds the fields: `set_schema` builds them, `values()` reads the typed values,
`errors()` says what is wrong, `set_values()` fills them in. Each `SchemaField` knows its
schema, turns what was typed into a typed value, and says why a value is wrong — checked in
the UI thread (pure functions, no I/O).
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Select, Static, Switch

from runners.launch.schema import check_value
from store import BadInput

UNSET: Any = object()  # the field was left empty: the schema's default (or nothing) applies
_ID_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def field_id(kind: str, name: str) -> str:
    """A valid widget id for any property name: `lr` → field-run_config-lr.

    A schema accepts any name (`lr.decay`, `batch size`), a widget id only [A-Za-z0-9_-]:
    every other character, `-` included, is written `-HEX-`, so two names never share an id
    (`lr.decay` → field-run_config-lr-2e-decay)."""
    safe = "".join(c if c in _ID_SAFE else f"-{ord(c):x}-" for c in name)
    return f"field-{kind}-{safe}"


def _as_text(value: Any) -> str:
    """How a value is typed into a text field: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def describe_schema(schema: dict) -> str:
    """'integer · 1…64 · default 4' — the hint shown under a field."""
    parts = [schema.get("type", "any")]
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None or high is not None:
        parts.append(f"{'' if low is None else low}…{'' if high is None else high}")
    if "default" in schema:
        parts.append(f"default {json.dumps(schema['default'])}")
    if schema.get("description"):
        parts.append(schema["description"])
    return " · ".join(str(p) for p in parts)


class SchemaField(Vertical):
    """A labelled input for one value described by a JSON-Schema-subset `schema`."""

    DEFAULT_CSS = """
    SchemaField { height: auto; margin: 0 0 1 0; }
    SchemaField > .field-hint { color: $text-muted; }
    SchemaField > .field-error { color: $error; display: none; }
    SchemaField.-invalid > .field-error { display: block; }
    SchemaField.-invalid Input { border: tall $error; }
    """

    def __init__(self, kind: str, name: str, schema: dict, initial: Any = UNSET) -> None:
        """`kind` names the form (the launch's "run_config" or "var"): it prefixes the field's id
        and its error."""
        super().__init__(id=field_id(kind, name), classes="schema-field")
        self.kind, self.field_name, self.schema = kind, name, schema
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
        type_ = self.schema.get("type")
        initial = self.initial
        if "enum" in self.schema:
            options = [  # Text: an enum value is shown as it is, never read as markup
                (Text(v if isinstance(v, str) else json.dumps(v)), i)
                for i, v in enumerate(self.schema["enum"])
            ]
            value = Select.NULL
            if initial is not UNSET and initial in self.schema["enum"]:
                value = self.schema["enum"].index(initial)
            yield Select(options, value=value, prompt="(default)", id="value")
        elif type_ == "boolean":
            start = self.schema.get("default", False) if initial is UNSET else bool(initial)
            yield Switch(value=start, id="value")
        else:
            text = "" if initial is UNSET else _as_text(initial)
            yield Input(value=text, placeholder=describe_schema(self.schema), id="value")
        yield Static(Text(describe_schema(self.schema)), classes="field-hint")
        yield Static("", classes="field-error")

    def value(self) -> Any:
        """The typed value, UNSET when left empty. Raises BadInput when it can't be one."""
        widget = self.query_one("#value")
        if isinstance(widget, Select):
            if widget.value is Select.NULL:
                return UNSET
            return self.schema["enum"][widget.value]
        if isinstance(widget, Switch):
            if "default" in self.schema and widget.value == self.schema["default"]:
                return UNSET
            return widget.value
        text = widget.value.strip()
        if not text:
            return UNSET
        type_ = self.schema.get("type")
        try:
            if type_ == "integer":
                return int(text)
            if type_ == "number":
                return float(text)
            if type_ in ("array", "object"):
                return json.loads(text)
        except ValueError:
            article = "an" if type_[0] in "aeiou" else "a"
            raise BadInput(self.label, f"{text!r} is not {article} {type_}") from None
        return text

    def validate_now(self) -> Any:
        """Check the value; marks the field and keeps the reason. Returns the value or UNSET."""
        try:
            value = self.value()
            if value is not UNSET:
                check_value(value, self.schema, self.label)
        except BadInput as exc:
            self.error = str(exc)
            value = UNSET
        else:
            self.error = None
        self.set_class(self.error is not None, "-invalid")
        self.query_one(".field-error", Static).update(Text(self.error or ""))
        return value

    def set_value(self, value: Any) -> None:
        """Show `value` (UNSET: empty; a switch then keeps its state; a value not in an enum
        leaves the choice blank)."""
        widget = self.query_one("#value")
        if isinstance(widget, Input):
            widget.value = "" if value is UNSET else _as_text(value)
        elif isinstance(widget, Switch) and value is not UNSET:
            widget.value = bool(value)
        elif isinstance(widget, Select):
            enum = self.schema.get("enum", [])
            widget.value = enum.index(value) if value in enum else Select.NULL


class SchemaForm(Vertical):
    """The fields of one schema's properties, or a hint when it has none."""

    DEFAULT_CSS = """
    SchemaForm { height: auto; }
    """

    def __init__(self, kind: str, *, id: str | None = None, classes: str | None = None) -> None:
        """`kind` prefixes each field's id and error (see SchemaField)."""
        super().__init__(id=id, classes=classes)
        self.kind = kind

    async def set_schema(self, properties: dict, initial: dict, empty_text: str) -> None:
        """Replace the fields: one per property, filled from `initial`; `empty_text` shown
        when there are no properties."""
        await self.remove_children()
        if properties:
            await self.mount_all(
                SchemaField(self.kind, name, prop, initial.get(name, UNSET))
                for name, prop in properties.items()
            )
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

"""What kind of form field edits a property of a schema: the shape a form is built from.

A property is followed through its `$ref`s, a one-member `allOf` and an Optional's `anyOf`
(`[X, {type: null}]`, as pydantic emits `Optional[X]`) to a simple type where there is one:
a choice (`enum`, `const`, an Optional boolean), a boolean, an integer, a number or a string.
Anything else (an object, a list, a union of several types, a `$ref` to an object) is edited as
YAML text, parsed, then checked against the property's own schema. Pure: no UI imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # not imported: importing jsonschema waits for the first schema
    from .validator import CompiledSchema

SIMPLE_TYPES = ("boolean", "integer", "number", "string")
NO_DEFAULT: Any = object()


@dataclass(frozen=True)
class FieldShape:
    """How to edit one property: `kind` is "choice", "boolean", "integer", "number", "string"
    or "yaml"; `flat` is the property's schema with its `$ref`s and Optional followed (for
    hints); `schema` the property as written, which values are checked against; `expected`
    the property in words ("an integer ≥ 1 or null")."""

    kind: str
    schema: Any
    flat: dict
    expected: str = "a value"
    nullable: bool = False
    choices: tuple = ()
    default: Any = NO_DEFAULT


def field_shape(compiled: CompiledSchema, prop: Any) -> FieldShape:
    """The field for `prop`, a property's schema inside `compiled`."""
    flat, nullable = flatten(compiled, prop)
    default = flat.get("default", NO_DEFAULT)
    shape = {
        "schema": prop,
        "flat": flat,
        "expected": compiled.describe(prop),
        "nullable": nullable,
        "default": default,
    }
    type_ = flat.get("type")
    if "const" in flat or "enum" in flat:
        choices = [flat["const"]] if "const" in flat else list(flat["enum"])
        if all(not isinstance(c, dict | list) for c in choices):
            if nullable and None not in choices:
                choices.append(None)
            return FieldShape("choice", choices=tuple(choices), **shape)
    elif type_ == "boolean" and nullable:  # a switch has no third position: a choice does
        return FieldShape("choice", choices=(True, False, None), **shape)
    elif type_ in SIMPLE_TYPES and not _composes(flat):
        return FieldShape(type_, **shape)
    return FieldShape("yaml", **shape)


def flatten(compiled: CompiledSchema, prop: Any) -> tuple[dict, bool]:
    """(the property with `$ref`, one-member `allOf` and an Optional's union followed, whether
    null is allowed). Keys written beside a `$ref` (title, description, default) are kept."""
    schema, nullable = prop if isinstance(prop, dict) else {}, False
    for _ in range(8):  # each step removes one wrapper; a cycle of refs stops here
        rest = {k: v for k, v in schema.items() if k not in ("$ref", "allOf", "anyOf", "oneOf")}
        if "$ref" in schema:
            target = compiled.resolve(schema["$ref"])
            schema = {**target, **rest} if isinstance(target, dict) else rest
        elif len(schema.get("allOf", ())) == 1 and isinstance(schema["allOf"][0], dict):
            schema = {**schema["allOf"][0], **rest}
        elif _optional_branch(schema) is not None:
            schema, nullable = {**_optional_branch(schema), **rest}, True
        else:
            break
    type_ = schema.get("type")
    if isinstance(type_, list) and "null" in type_ and len(type_) == 2:  # ["integer", "null"]
        schema = {**schema, "type": next(t for t in type_ if t != "null")}
        nullable = True
    return schema, nullable


def _optional_branch(schema: dict) -> dict | None:
    """X of `anyOf: [X, {type: null}]` (or oneOf), else None."""
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
            other = next(b for b in branches if b != {"type": "null"})
            return other if isinstance(other, dict) else None
    return None


def _composes(schema: dict) -> bool:
    return any(key in schema for key in ("$ref", "allOf", "anyOf", "oneOf", "not", "if"))

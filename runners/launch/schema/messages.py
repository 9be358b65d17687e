"""jsonschema's errors as launchbay's one-line messages: the field, what was expected, what was
given (`run_config.lr: expected a number > 0, got -1`).

`describe` words a schema ("an integer between 1 and 8", "one of 'adam', 'sgd'", "an integer
or null"); `error_line` picks the field and the words for one `jsonschema.ValidationError`.
"""

import re
from collections.abc import Callable
from typing import Any

from .walk import field_name

Resolve = Callable[[str], Any]  # a $ref → the schema it points to

# Keywords about the value itself: the message is "expected <the whole field's schema>".
_VALUE_KEYWORDS = {
    "type",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "pattern",
    "minLength",
    "maxLength",
    "format",
    "anyOf",
    "oneOf",
    "$ref",
}
# Keywords about an object's keys: the value is a mapping, and one key is wrong or missing.
_KEY_KEYWORDS = ("required", "additionalProperties", "unevaluatedProperties")
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def short_repr(value: Any, limit: int = 60) -> str:
    """repr(value), cut to `limit` characters: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(schema: Any, resolve: Resolve, depth: int = 0) -> str:
    """What a value must be, in words, for messages and hints."""
    if schema is True or schema == {}:
        return "any value"
    if schema is False:
        return "no value (the schema allows none)"
    if not isinstance(schema, dict) or depth > 4:  # a recursive $ref: stop somewhere sensible
        return "a value"
    if "$ref" in schema:
        target = resolve(schema["$ref"])
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return describe(
            {**target, **rest} if isinstance(target, dict) else target, resolve, depth + 1
        )
    if "const" in schema:
        return short_repr(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(short_repr(v) for v in schema["enum"])
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            words = _unique(describe(branch, resolve, depth + 1) for branch in schema[keyword])
            return " or ".join(words)
    if len(schema.get("allOf", ())) == 1:
        return describe({**schema["allOf"][0], **schema, "allOf": []}, resolve, depth + 1)
    type_ = schema.get("type")
    if isinstance(type_, list):
        return " or ".join(_unique(describe({**schema, "type": t}, resolve, depth) for t in type_))
    text = _TYPE_WORDS.get(type_, "a value")
    if type_ == "object" and isinstance(schema.get("title"), str):
        text += f" ({schema['title']})"  # pydantic's model name: "a mapping (Trainer)"
    # JSON Schema applies each keyword to its own type only: `minimum` says nothing of a string.
    constraints = _bounds(schema) if type_ in ("integer", "number", None) else []
    constraints += _string_rules(schema) if type_ in ("string", None) else []
    items = schema.get("items")
    if type_ == "array" and isinstance(items, dict) and describe(items, resolve) != "any value":
        constraints.append(f"(each item {describe(items, resolve, depth + 1)})")
    return " ".join([text, *constraints])


def _unique(words) -> list[str]:
    return list(dict.fromkeys(words))


def _bounds(schema: dict) -> list[str]:
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if above is True:  # draft-04: the boolean makes `minimum` exclusive
        low, above = None, low
    if below is True:
        high, below = None, high
    if _is_number(low) and _is_number(high) and above is None and below is None:
        parts = [f"between {low} and {high}"]
    else:
        parts = [
            f"{sign} {bound}"
            for sign, bound in ((">", above), ("≥", low), ("<", below), ("≤", high))
            if _is_number(bound)
        ]
        parts = [" and ".join(parts)] if parts else []
    if _is_number(schema.get("multipleOf")):
        parts.append(f"(a multiple of {schema['multipleOf']})")
    return parts


def _string_rules(schema: dict) -> list[str]:
    parts = []
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None and high is not None:
        parts.append(f"of {low} to {high} characters")
    elif low is not None:
        parts.append(f"of at least {low} character{'s' if low != 1 else ''}")
    elif high is not None:
        parts.append(f"of at most {high} characters")
    if "pattern" in schema:
        parts.append(f"matching {short_repr(schema['pattern'])}")
    if "format" in schema:
        parts.append(f"({schema['format']})")
    return parts


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_optional(branches: Any) -> bool:
    """Whether a union's branches are one schema and `{type: null}` (pydantic's Optional)."""
    if not isinstance(branches, list):
        return False
    return len([b for b in branches if b != {"type": "null"}]) == 1 < len(branches)


def error_line(error, field: str, resolve: Resolve) -> tuple[str, str]:
    """(the field, what is wrong with it) for one jsonschema ValidationError under `field`."""
    # An Optional's or a union's branch failing where the value itself is: the union is what
    # the user must satisfy, so the message names all of it ("an integer or null"). But a
    # mapping given for an Optional model is that model's, wrong in its keys: name the key.
    while (
        error.parent is not None
        and error.parent.validator in ("anyOf", "oneOf")
        and list(error.parent.absolute_path) == list(error.absolute_path)
        and not (error.validator in _KEY_KEYWORDS and _is_optional(error.parent.validator_value))
    ):
        error = error.parent
    where = field_name(field, tuple(error.absolute_path))
    value = error.instance
    if error.validator == "required":
        missing = next(name for name in error.validator_value if name not in value)
        return field_name(where, (missing,)), "is required but missing"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        known = list(error.schema.get("properties") or {})
        patterns = list(error.schema.get("patternProperties") or {})
        extra = next(
            (
                name
                for name in value
                if name not in known and not any(re.search(p, name) for p in patterns)
            ),
            None,
        )
        if extra is not None:
            listed = ", ".join(known) or "(none)"
            return (
                field_name(where, (extra,)),
                f"is not in the job's input schema; expected one of {listed}",
            )
    if error.validator == "oneOf" and "valid under each of" in error.message:
        choice = f"{short_repr(value)} fits more than one choice"
        return where, f"{choice}; expected exactly one of: {describe(error.schema, resolve)}"
    if error.validator in _VALUE_KEYWORDS:
        return where, f"expected {describe(error.schema, resolve)}, got {short_repr(value)}"
    return where, error.message

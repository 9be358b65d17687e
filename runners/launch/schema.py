"""The JSON Schema subset launchbay understands, for job input schemas and template variables.

Keywords: type, default, minimum, maximum, enum, description, title, required, properties,
items, additionalProperties. Unlike full JSON Schema, an object schema with `properties`
refuses keys it does not list unless it says `additionalProperties: true`: a misspelt
hyper-parameter is then an error at launch instead of a silently ignored value.
"""

import copy
import math
import re
from typing import Any

from store import BadInput

TYPES = ("string", "integer", "number", "boolean", "array", "object")
VARIABLE_TYPES = ("string", "integer", "number")
_KEYWORDS = {
    "type",
    "default",
    "minimum",
    "maximum",
    "enum",
    "description",
    "title",
    "required",
    "properties",
    "items",
    "additionalProperties",
}
# What a `{{name}}` placeholder can name (fullmatch: `$` would let "name\n" through).
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VARIABLE_KEYWORDS = {"type", "default", "minimum", "maximum", "enum", "description"}


def check_input_schema(schema: Any, field: str = "schema") -> dict:
    """Check a job's input schema document; returns it. Raises BadInput naming the bad part."""
    if not isinstance(schema, dict):
        raise BadInput(field, "expected a JSON/YAML object (a JSON Schema with 'properties')")
    if schema.get("type", "object") != "object" or "properties" not in schema:
        raise BadInput(field, "expected an object schema: {type: object, properties: {...}}")
    _check_property_schema(schema, field)
    return schema


def _check_property_schema(schema: Any, field: str) -> None:
    if not isinstance(schema, dict):
        raise BadInput(field, "expected an object describing the value")
    _refuse_unknown_keywords(schema, _KEYWORDS, field)
    type_ = schema.get("type")
    if type_ is not None and type_ not in TYPES:
        raise BadInput(f"{field}.type", f"{type_!r}; expected one of {', '.join(TYPES)}")
    for bound in ("minimum", "maximum"):
        if bound in schema and not _is_number(schema[bound]):
            raise BadInput(f"{field}.{bound}", "expected a number")
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        raise BadInput(f"{field}.enum", "expected a non-empty list")
    properties = schema.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            raise BadInput(f"{field}.properties", "expected a mapping of name to schema")
        for name, sub in properties.items():
            _check_property_schema(sub, f"{field}.properties.{name}")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise BadInput(f"{field}.required", "expected a list of property names")
    if "items" in schema:
        _check_property_schema(schema["items"], f"{field}.items")
    if "default" in schema:
        check_value(schema["default"], schema, f"{field}.default")


def build_run_config(schema: dict | None, overrides: dict | None) -> dict:
    """The run config a job sees: the schema's defaults, then the launch's overrides, checked."""
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, dict):
        raise BadInput("overrides.run_config", "expected a mapping of names to values")
    if schema is None:
        return copy.deepcopy(overrides)
    config = _with_defaults(schema, overrides)
    check_value(config, schema, "run_config")
    return config


def _with_defaults(schema: dict, value: dict) -> dict:
    result = copy.deepcopy(value)
    for name, sub in (schema.get("properties") or {}).items():
        if name not in result and "default" in sub:
            result[name] = copy.deepcopy(sub["default"])
        if isinstance(result.get(name), dict) and sub.get("properties"):
            result[name] = _with_defaults(sub, result[name])
    return result


def check_value(value: Any, schema: dict, field: str) -> None:
    """Raise BadInput(field, what was expected) unless `value` satisfies `schema`."""
    type_ = schema.get("type")
    if type_ is not None and not _has_type(value, type_):
        raise BadInput(
            field, f"{value!r} is not {_article(type_)} {type_}; expected {_describe(schema)}"
        )
    if "enum" in schema and value not in schema["enum"]:
        raise BadInput(
            field,
            f"{value!r} is not allowed; expected one of {', '.join(map(repr, schema['enum']))}",
        )
    if _is_number(value):
        if not math.isfinite(value):
            raise BadInput(field, f"{value!r}; expected a finite number")
        if "minimum" in schema and value < schema["minimum"]:
            raise BadInput(field, f"{value!r} is below the minimum; expected {_describe(schema)}")
        if "maximum" in schema and value > schema["maximum"]:
            raise BadInput(field, f"{value!r} is above the maximum; expected {_describe(schema)}")
    if isinstance(value, dict) and ("properties" in schema or "required" in schema):
        properties = schema.get("properties") or {}
        for name in schema.get("required", []):
            if name not in value:
                raise BadInput(f"{field}.{name}", "is required but missing")
        if not schema.get("additionalProperties", False):
            for name in value:
                if name not in properties:
                    raise BadInput(
                        f"{field}.{name}",
                        "is not in the job's input schema; expected"
                        f" one of {', '.join(properties) or '(none)'}",
                    )
        for name, sub in properties.items():
            if name in value:
                check_value(value[name], sub, f"{field}.{name}")
    if isinstance(value, list) and "items" in schema:
        for index, element in enumerate(value):
            check_value(element, schema["items"], f"{field}[{index}]")


def check_variable_schema(name: str, schema: Any) -> dict:
    """A queue template variable's schema: type string|integer|number and the usual bounds."""
    field = f"template_variables.{name}"
    if not isinstance(name, str) or not VARIABLE_NAME.fullmatch(name):
        raise BadInput(  # the name as repr: it may hold a newline
            "template_variables",
            f"{name!r} is not a valid variable name; expected letters, digits and _",
        )
    if not isinstance(schema, dict):
        raise BadInput(field, "expected a mapping with at least 'type'")
    _refuse_unknown_keywords(schema, _VARIABLE_KEYWORDS, field)
    if schema.get("type") not in VARIABLE_TYPES:
        raise BadInput(
            f"{field}.type", f"{schema.get('type')!r}; expected one of {', '.join(VARIABLE_TYPES)}"
        )
    _check_property_schema(schema, field)
    return schema


def parse_variable(name: str, schema: dict, text: str) -> Any:
    """The typed value of `--set-var name=text`, checked against the variable's schema."""
    field = f"--set-var {name}"
    type_ = schema["type"]
    value: Any = text
    try:
        if type_ == "integer":
            value = int(text)
        elif type_ == "number":
            value = float(text)
    except ValueError:
        raise BadInput(
            field, f"{text!r} is not {_article(type_)} {type_}; expected {_describe(schema)}"
        ) from None
    check_value(value, schema, field)
    return value


def _has_type(value: Any, type_: str) -> bool:
    if type_ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "number":
        return _is_number(value)
    return isinstance(value, {"string": str, "boolean": bool, "array": list, "object": dict}[type_])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _article(type_: str) -> str:
    return "an" if type_[0] in "aeiou" else "a"


def _describe(schema: dict) -> str:
    """'an integer between 1 and 8', 'one of 'a', 'b'', … for error messages and help."""
    if "enum" in schema:
        return "one of " + ", ".join(map(repr, schema["enum"]))
    type_ = schema.get("type", "value")
    text = f"{_article(type_)} {type_}"
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        text += f" between {low} and {high}"
    elif low is not None:
        text += f" ≥ {low}"
    elif high is not None:
        text += f" ≤ {high}"
    return text


def _refuse_unknown_keywords(schema: dict, allowed: set[str], field: str) -> None:
    unknown = set(schema) - allowed
    if unknown:
        raise BadInput(
            f"{field}.{sorted(unknown)[0]}",
            f"unknown keyword; expected one of {', '.join(sorted(allowed))}",
        )

"""`launch --set KEY=VALUE`: run-config values from the command line, typed by the job's input
schema (`--set lr=0.1` is the number 0.1 where the schema says number, the text "0.1" where it
says string). Where the schema gives no type (or there is no schema), the value is read as
YAML: `3` an integer, `true` a boolean, `[1, 2]` a list, anything else text. A dotted KEY
(`optim.lr`) sets a nested value. The values go over the spec's `overrides.run_config`; the
whole run config is then checked against the schema as always (bounds, enums, required).
"""

from __future__ import annotations

from typing import Any

from store import BadInput

_YAML_TYPES = {"boolean": bool, "array": list, "object": dict}


def apply_set_values(schema: dict | None, run_config: Any, items: list[str]) -> Any:
    """`run_config` (the spec's overrides) with each `KEY=VALUE` of `items` set in it, typed."""
    if not items:
        return run_config
    if run_config is None:
        run_config = {}
    if not isinstance(run_config, dict):
        return run_config  # refused, naming overrides.run_config, where it is checked
    result = dict(run_config)
    for item in items:
        key, sep, text = item.partition("=")
        path = key.split(".")
        if not sep or not all(path):
            raise BadInput("--set", f"{item!r}; expected KEY=VALUE (KEY may be dotted: a.b)")
        field = f"--set {key}"
        value = typed_value(property_schema(schema, path, field), text, field)
        _put(result, path, value, field)
    return result


def property_schema(schema: dict | None, path: list[str], field: str) -> dict | None:
    """The schema of the property at `path` (None: any value goes, untyped). A key the schema
    does not list is refused unless the object allows additional properties."""
    for depth, name in enumerate(path):
        if not isinstance(schema, dict) or "properties" not in schema:
            return None  # no schema here: nothing to type by, nothing to refuse
        properties = schema["properties"] or {}
        if name not in properties:
            if schema.get("additionalProperties", False):
                return None
            where = ".".join(path[:depth]) or "the job's input schema"
            raise BadInput(
                field,
                f"{name!r} is not in {where}; expected one of {', '.join(properties) or '(none)'}",
            )
        schema = properties[name]
    return schema if isinstance(schema, dict) else None


def typed_value(schema: dict | None, text: str, field: str) -> Any:
    """`text` as the value the property's `type` says; as YAML where it says none."""
    type_ = (schema or {}).get("type")
    if type_ == "string":
        return text
    if type_ == "integer":
        try:
            return int(text)
        except ValueError:
            raise BadInput(field, f"{text!r} is not an integer; expected e.g. 3") from None
    if type_ == "number":
        try:
            value = int(text)  # an integral number stays an int, as JSON would write it
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise BadInput(field, f"{text!r} is not a number; expected e.g. 0.1") from None
        return value
    from runners.launch.documents import parse_yaml

    value = parse_yaml(text, field, "the value") if text.strip() else text
    expected = _YAML_TYPES.get(type_)
    if expected is not None and not isinstance(value, expected):
        hint = {"boolean": "true or false", "array": "[a, b]", "object": "{a: 1}"}[type_]
        raise BadInput(field, f"{text!r} is not {_article(type_)} {type_}; expected {hint}")
    return value


def _article(type_: str) -> str:
    return "an" if type_[0] in "aeiou" else "a"


def _put(config: dict, path: list[str], value: Any, field: str) -> None:
    for name in path[:-1]:
        inner = config.get(name)
        if inner is None:
            inner = {}
        elif not isinstance(inner, dict):
            raise BadInput(field, f"{name!r} holds {inner!r}, not a mapping to set a key in")
        else:
            inner = dict(inner)
        config[name] = inner
        config = inner
    config[path[-1]] = value

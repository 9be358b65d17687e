"""`launch --set KEY=VALUE`: run-config values from the command line, typed by the job's input
schema (`--set lr=0.1` is the number 0.1 where the schema says number, the text "0.1" where it
says string). Where the schema gives no type (or there is no schema), the value is read as
YAML: `3` an integer, `true` a boolean, `[1, 2]` a list, anything else text. A dotted KEY
(`optim.lr`) sets a nested value. The schema is followed as the launch form follows it
(`$ref`s, a one-member `allOf`, an Optional's `anyOf`: what pydantic writes), and `null` is
null for an Optional. The values go over the spec's `overrides.run_config`; the whole run
config is then checked against the schema as always (bounds, enums, required).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from store import BadInput

if TYPE_CHECKING:
    from runners.launch.schema.validator import CompiledSchema

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
    compiled = None
    if isinstance(schema, dict):
        from runners.launch.schema import compiled as compile_schema

        compiled = compile_schema(schema, check=False)  # the job's: checked at `job create`
    for item in items:
        key, sep, text = item.partition("=")
        path = key.split(".")
        if not sep or not all(path):
            raise BadInput("--set", f"{item!r}; expected KEY=VALUE (KEY may be dotted: a.b)")
        field = f"--set {key}"
        prop, nullable = property_schema(compiled, path, field)
        value = None if nullable and text == "null" else typed_value(prop, text, field)
        _put(result, path, value, field)
    return result


def property_schema(
    compiled: CompiledSchema | None, path: list[str], field: str
) -> tuple[dict | None, bool]:
    """(the schema of the property at `path`, followed to its type; None: any value goes,
    untyped) and whether it may be null. A key the schema does not list is refused unless the
    object allows additional properties."""
    if compiled is None:
        return None, False
    from runners.launch.schema.fields import flatten

    schema, nullable = flatten(compiled, compiled.schema)
    for depth, name in enumerate(path):
        if "properties" not in schema:
            return None, False  # no schema here: nothing to type by, nothing to refuse
        properties = schema["properties"] or {}
        if name not in properties:
            if schema.get("additionalProperties", False):
                return None, False
            where = ".".join(path[:depth]) or "the job's input schema"
            raise BadInput(
                field,
                f"{name!r} is not in {where}; expected one of {', '.join(properties) or '(none)'}",
            )
        schema, nullable = flatten(compiled, properties[name])
    return schema, nullable


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

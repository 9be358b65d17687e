"""Job input schemas and template-variable schemas: JSON Schema, validated by `jsonschema`.

What launchbay adds (see validator.py): the draft from `$schema` (2020-12 by default), closed
plain objects, local `$ref`s only, W&B's `required: true`, the defaults filled in, and errors as
one line naming the field (messages.py). `Model.model_json_schema()` of a pydantic model is a
valid input schema as is. `jsonschema` is imported on first use: the CLI starts without it.
"""

import copy
import math
import re
from typing import TYPE_CHECKING, Any

from store import BadInput

if TYPE_CHECKING:
    from .validator import CompiledSchema

VARIABLE_TYPES = ("string", "integer", "number")
# What a `{{name}}` placeholder can name (fullmatch: `$` would let "name\n" through).
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def compiled(schema: Any, field: str = "schema", check: bool = True) -> "CompiledSchema":
    """`schema` compiled (cached by its JSON text) and, unless `check=False` (a schema the
    store holds, checked when stored), checked. Raises BadInput naming the bad part. The one
    entry point for anything that validates values against a schema."""
    if not isinstance(schema, dict):
        raise BadInput(field, "expected a JSON/YAML object (a JSON Schema)")
    from .validator import compile_schema  # jsonschema: ~50–80 ms to import, on first use

    return compile_schema(schema, field, check)


def check_input_schema(schema: Any, field: str = "schema") -> dict:
    """Check a job's input schema document; returns it. Raises BadInput naming the bad part."""
    if not isinstance(schema, dict):
        raise BadInput(field, "expected a JSON/YAML object (a JSON Schema with 'properties')")
    if schema.get("type", "object") != "object" or not isinstance(schema.get("properties"), dict):
        raise BadInput(field, "expected an object schema: {type: object, properties: {...}}")
    compiled(schema, field)
    return schema


def build_run_config(schema: dict | None, overrides: dict | None) -> dict:
    """The run config a job sees: the schema's defaults, then the launch's overrides, checked."""
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, dict):
        raise BadInput("overrides.run_config", "expected a mapping of names to values")
    if schema is None:
        return copy.deepcopy(overrides)
    compiled_schema = compiled(schema, check=False)  # the job's: checked at `job create`
    config = with_defaults(compiled_schema, compiled_schema.schema, overrides)
    _refuse_non_finite(config, "run_config")
    compiled_schema.check(config, "run_config")
    return config


def with_defaults(compiled_schema: "CompiledSchema", schema: Any, value: Any) -> Any:
    """`value` with the defaults of `schema` (a part of `compiled_schema`) filled in where it
    has no key: through nested objects, `$ref`, `allOf`, and the one non-null branch of an
    Optional's `anyOf`/`oneOf` (pydantic's `Optional[Model]`). A copy; `value` is untouched."""
    if not isinstance(value, dict):
        return copy.deepcopy(value)
    result = copy.deepcopy(value)
    for part in _object_parts(compiled_schema, schema):
        for name, sub in (part.get("properties") or {}).items():
            sub = _followed(compiled_schema, sub)
            if name not in result and isinstance(sub, dict) and "default" in sub:
                result[name] = copy.deepcopy(sub["default"])
            if isinstance(result.get(name), dict):
                result[name] = with_defaults(compiled_schema, sub, result[name])
    return result


def _object_parts(compiled_schema: "CompiledSchema", schema: Any, depth: int = 0) -> list[dict]:
    """The schemas whose `properties` apply to a mapping valid under `schema`."""
    schema = _followed(compiled_schema, schema)
    if not isinstance(schema, dict) or depth > 8:
        return []
    parts = [schema]
    for member in schema.get("allOf", []):
        parts += _object_parts(compiled_schema, member, depth + 1)
    for keyword in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(keyword, []) if b != {"type": "null"}]
        if len(branches) == 1:  # Optional[X]: X is the only way the value can be a mapping
            parts += _object_parts(compiled_schema, branches[0], depth + 1)
    return parts


def _followed(compiled_schema: "CompiledSchema", schema: Any) -> Any:
    """`schema` with its `$ref` replaced by what it points to (its own keys win)."""
    for _ in range(8):  # a chain of refs; a cycle stops here
        if not isinstance(schema, dict) or "$ref" not in schema:
            break
        target = compiled_schema.resolve(schema["$ref"])
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if isinstance(target, dict) else target
    return schema


def check_value(value: Any, schema: dict, field: str, part: Any = None) -> None:
    """Raise BadInput(field, what was expected) unless `value` satisfies `schema` (or `part`,
    a subschema of it: a form field's property, whose `$ref`s resolve in `schema`)."""
    _refuse_non_finite(value, field)
    compiled(schema, check=False).check(value, field, part)


def _refuse_non_finite(value: Any, field: str) -> None:
    # JSON has no NaN or infinity; YAML and Python's json module read them. A bound compared
    # with NaN is never violated, so NaN would pass any `minimum`.
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInput(field, f"expected a finite number, got {value!r}")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_non_finite(item, f"{field}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_non_finite(item, f"{field}[{index}]")


def check_variable_schema(name: str, schema: Any) -> dict:
    """A queue template variable's schema: JSON Schema of type string, integer or number (its
    value is put into text). Returns it; raises BadInput naming the bad part."""
    field = f"template_variables.{name}"
    if not isinstance(name, str) or not VARIABLE_NAME.fullmatch(name):
        raise BadInput(  # the name as repr: it may hold a newline
            "template_variables",
            f"{name!r} is not a valid variable name; expected letters, digits and _",
        )
    if not isinstance(schema, dict):
        raise BadInput(field, "expected a mapping with at least 'type'")
    if schema.get("type") not in VARIABLE_TYPES:
        raise BadInput(
            f"{field}.type", f"{schema.get('type')!r}; expected one of {', '.join(VARIABLE_TYPES)}"
        )
    compiled(schema, field)
    return schema


def parse_variable(name: str, schema: dict, text: str, field: str | None = None) -> Any:
    """The typed value of `--set-var name=text`, checked against the variable's schema; a
    refusal names `field` (default: `--set-var NAME`)."""
    field = field or f"--set-var {name}"
    type_ = schema["type"]
    try:
        value: Any = {"integer": int, "number": float}.get(type_, str)(text)
    except ValueError:
        expected = compiled(schema, check=False).describe(schema)
        raise BadInput(field, f"expected {expected}, got {text!r}") from None
    check_value(value, schema, field)
    return value

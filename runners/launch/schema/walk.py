"""Where a JSON Schema holds other schemas, and the name of a place in a document.

Walking by keyword (not by every nested dict) keeps property names apart from keywords: in
`properties: {minimum: {...}}`, `minimum` is a name, never a bound.
"""

from collections.abc import Iterator
from typing import Any

# Keywords whose value is a mapping of names to schemas.
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
# Keywords whose value is one schema.
SCHEMA_VALUES = (
    "additionalProperties",
    "unevaluatedProperties",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
)
# Keywords whose value is a list of schemas (`items` too, in draft-07's tuple form).
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")

Path = tuple[str | int, ...]


def subschemas(schema: Any) -> Iterator[tuple[Path, dict]]:
    """Every schema object in `schema` (itself first), with its path from it."""
    if not isinstance(schema, dict):
        return
    yield (), schema
    for key, value in schema.items():
        if key in SCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                yield from _under((key, name), sub)
        elif key in SCHEMA_VALUES or (key == "items" and isinstance(value, dict)):
            yield from _under((key,), value)
        elif key == "dependencies" and isinstance(value, dict):  # draft-07: schema or names
            for name, sub in value.items():
                yield from _under((key, name), sub)
        elif (key in SCHEMA_LISTS or key == "items") and isinstance(value, list):
            for index, sub in enumerate(value):
                yield from _under((key, index), sub)


def _under(prefix: Path, schema: Any) -> Iterator[tuple[Path, dict]]:
    for path, sub in subschemas(schema):
        yield prefix + path, sub


def field_name(field: str, path: Path) -> str:
    """`run_config` + ("optim", "lr") → run_config.optim.lr; list indexes as [i]."""
    return field + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)

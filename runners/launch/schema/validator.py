"""A schema checked once and compiled to a `jsonschema` validator, cached by its JSON text.

Compiling is where launchbay's rules meet JSON Schema's:
- the draft comes from `$schema` (2020-12 when there is none; draft-04 to 2020-12 known);
- W&B's `required: true` on a property (W&B's own schema dialect) means the property is in its
  parent's `required` list;
- an object schema that lists `properties`, composes nothing and says nothing of other keys is
  closed (`additionalProperties: false`): a misspelt hyper-parameter is an error at launch;
- a `$ref` must point inside the document: launchbay never fetches a schema;
- a keyword one letter off a real one (`minimumm`) is refused; other unknown keywords are
  annotations (`label`, `placeholder`, `x-…`), as JSON Schema says;
- the schema must be valid for its draft (`check_schema`), and each `default` valid for its
  own schema.
"""

import difflib
import json
import threading
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema.exceptions import best_match

from store import BadInput

from .messages import describe, error_line, short_repr
from .walk import SCHEMA_LISTS, field_name, subschemas

LATEST = jsonschema.Draft202012Validator
DRAFTS = (
    jsonschema.Draft202012Validator,
    jsonschema.Draft201909Validator,
    jsonschema.Draft7Validator,
    jsonschema.Draft6Validator,
    jsonschema.Draft4Validator,
)
# Keywords no validator checks but JSON Schema (or pydantic, or OpenAPI) defines.
_ANNOTATIONS = {
    "$schema",
    "$id",
    "id",
    "$comment",
    "$anchor",
    "$dynamicAnchor",
    "$recursiveAnchor",
    "$vocabulary",
    "$defs",
    "definitions",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
    "discriminator",  # pydantic's tagged unions (OpenAPI's keyword)
    "example",  # OpenAPI 3.0's, common in pydantic's json_schema_extra: not a typo of examples
    "nullable",
    "externalDocs",
    "xml",
}
_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
_COMPOSING = {"allOf", "anyOf", "oneOf", "$ref", "$dynamicRef", "if", "dependentSchemas"}
_OPENING = {"additionalProperties", "unevaluatedProperties", "patternProperties"}


class CompiledSchema:
    """A schema as launchbay reads it, its validator and whether it was checked against its
    meta-schema; shared between threads, never mutated."""

    def __init__(self, schema: dict, validator_class: type, checked: bool) -> None:
        self.schema = schema
        self.validator_class = validator_class
        self.checked = checked  # against the meta-schema, with its defaults
        resource = referencing.Resource.from_contents(
            schema,
            default_specification=referencing.jsonschema.specification_with(
                validator_class.META_SCHEMA["$schema"]
            ),
        )
        # An empty registry: a reference the document does not hold is an error, never a
        # download (jsonschema's default registry would fetch a remote $ref).
        registry = referencing.Registry().with_resource(resource.id() or "", resource)
        self._resolver = registry.resolver_with_root(resource)
        self.validator = validator_class(schema, registry=registry)

    def resolve(self, ref: str) -> Any:
        """The schema a local `$ref` points to. Raises BadInput when it points nowhere."""
        try:
            return self._resolver.lookup(ref).contents
        except referencing.exceptions.Unresolvable:
            raise BadInput("$ref", f"{ref!r} points nowhere in the schema") from None

    def errors(self, value: Any, schema: Any = None):
        """jsonschema's errors for `value` against the whole schema or one of its parts."""
        validator = self.validator if schema is None else self.validator.evolve(schema=schema)
        return validator.iter_errors(value)

    def check(self, value: Any, field: str, schema: Any = None) -> None:
        """Raise BadInput naming the field and what was expected unless `value` is valid."""
        error = best_match(self.errors(value, schema))
        if error is not None:
            raise BadInput(*error_line(error, field, self.resolve))

    def describe(self, schema: Any) -> str:
        """`schema` (a part of this one) in words: "an integer between 1 and 8"."""
        return describe(schema, self.resolve)


_CACHE: dict[str, CompiledSchema] = {}  # by the schema's JSON text; oldest dropped first
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()


def compile_schema(schema: dict, field: str, check: bool = True) -> CompiledSchema:
    """The schema compiled; the same object for the same JSON text (a process compiles a job's
    schema once, at its first launch). Raises BadInput naming the bad part. `check=False` skips
    the meta-schema and the defaults (10–30 ms, most of a compile): for a schema the store
    holds, which was checked when it was stored."""
    try:
        # Not sort_keys: the properties' order is the form's and the messages' order.
        text = json.dumps(schema, allow_nan=False)
    except (TypeError, ValueError):
        raise BadInput(
            field, "expected a JSON document (strings, numbers, lists, mappings)"
        ) from None
    found = _CACHE.get(text)
    if found is None or (check and not found.checked):
        found = _compile(text, field, check)  # outside the lock: two threads may both compile
        with _CACHE_LOCK:  # the app's UI thread and its preview worker both validate
            _CACHE.pop(text, None)
            _CACHE[text] = found
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
    return found


def _compile(text: str, field: str, check: bool) -> CompiledSchema:
    schema = json.loads(text)
    validator_class = _draft(schema, field)
    schema = _as_launchbay_reads_it(schema)
    _refuse_remote_refs_and_typos(schema, validator_class, field)
    if check:
        try:
            validator_class.check_schema(schema)
        except jsonschema.SchemaError as error:
            raise BadInput(*_schema_error_line(error, field)) from None
    compiled = CompiledSchema(schema, validator_class, checked=check)
    for path, sub in subschemas(schema):
        for ref in (sub[key] for key in _REF_KEYWORDS if key in sub):
            try:
                compiled.resolve(ref)
            except BadInput as exc:
                raise BadInput(field_name(field, (*path, "$ref")), exc.message) from None
        if check and "default" in sub:
            compiled.check(sub["default"], field_name(field, (*path, "default")), sub)
    return compiled


def _draft(schema: dict, field: str) -> type:
    declared = schema.get("$schema")
    if declared is None:
        return LATEST
    found = jsonschema.validators.validator_for(schema, default=None)
    if found not in DRAFTS:
        known = ", ".join(cls.META_SCHEMA["$schema"] for cls in DRAFTS)
        raise BadInput(f"{field}.$schema", f"{declared!r}; expected one of {known}")
    return found


def _as_launchbay_reads_it(schema: dict) -> dict:
    """`schema` (a fresh copy: parsed from its text) with W&B's `required: true` moved to the
    parent, and plain objects closed."""
    in_multi_allof = {
        id(member)
        for _, sub in subschemas(schema)
        if len(sub.get("allOf", ())) > 1
        for member in sub["allOf"]
    }
    for _, sub in subschemas(schema):
        properties = sub.get("properties")
        if not isinstance(properties, dict):
            continue
        for name, prop in properties.items():
            if not (isinstance(prop, dict) and isinstance(prop.get("required"), bool)):
                continue
            if prop.pop("required") and isinstance(sub.setdefault("required", []), list):
                sub["required"] = [*sub["required"], name]
        # A member of a multi-schema allOf shares its object with its siblings; closing it
        # would refuse their keys.
        if not (set(sub) & (_COMPOSING | _OPENING)) and id(sub) not in in_multi_allof:
            sub["additionalProperties"] = False
    return schema


def _refuse_remote_refs_and_typos(schema: dict, validator_class: type, field: str) -> None:
    known = set(validator_class.VALIDATORS) | _ANNOTATIONS | set(SCHEMA_LISTS)
    for path, sub in subschemas(schema):
        for key in _REF_KEYWORDS:
            ref = sub.get(key)
            if isinstance(ref, str) and not ref.startswith("#"):
                raise BadInput(
                    field_name(field, (*path, key)),
                    f"{ref!r} is outside the schema; expected a local reference (#/$defs/NAME):"
                    " launchbay never fetches a schema",
                )
        for key in sub:
            if key in known or not isinstance(key, str) or key.startswith("x-"):
                continue
            near = difflib.get_close_matches(key, known, n=1, cutoff=0.85)
            if near:
                raise BadInput(
                    field_name(field, (*path, key)), f"unknown keyword; did you mean {near[0]}?"
                )


def _schema_error_line(error: jsonschema.SchemaError, field: str) -> tuple[str, str]:
    path = tuple(error.absolute_path)
    where = field_name(field, path)
    value = error.instance
    if path and path[-1] in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
        return where, (
            f"{value} is draft-04's form; expected a number (exclusiveMinimum: 0 means > 0),"
            ' or "$schema": "http://json-schema.org/draft-04/schema#"'
        )
    if path and path[-1] == "type":
        types = "string, integer, number, boolean, array, object, null"
        return where, f"expected one of {types} (or a list of them), got {value!r}"
    if error.validator in ("type", "enum", "const", "minimum", "exclusiveMinimum"):
        # The meta-schema's own words: "a number", "a list"; its $refs are not followed.
        return where, f"expected {describe(error.schema, lambda ref: {})}, got {short_repr(value)}"
    if error.validator == "format":  # the meta-schema asserts `pattern` is a regex
        return where, f"{short_repr(value)} is not a valid {error.validator_value}"
    return where, error.message

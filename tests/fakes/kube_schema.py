"""What the fake API server checks in a body it is asked to create (a JSON object; a custom
object's kind, version, namespace and name in `checked_object`), before its own rules
(kube_controller.check_job's 422s), as a real one decodes it:

- a value of the wrong JSON type: 400 BadRequest, "cannot be handled as a <Kind>";
- an unknown field: dropped, and said in a `Warning` header (the server's default
  fieldValidation=Warn).

Types come from the upstream OpenAPI schemas that kubernetes-validate ships (v1.33, the version
the fake says it is).
"""

import functools
import json
from pathlib import Path
from typing import Any

from .kube_objects import DNS1123_SUBDOMAIN, KubeError, random_suffix

BUILT_IN_KINDS = {("batch", "jobs"): "Job", ("", "pods"): "Pod", ("", "configmaps"): "ConfigMap"}
SCHEMA_VERSION = "v1.33.0-local-strict"
SCHEMA_FILES = {"Job": "job-batch-v1.json", "ConfigMap": "configmap-v1.json"}


@functools.cache
def _schema_dir() -> Path:
    import kubernetes_validate

    return Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / SCHEMA_VERSION


@functools.cache
def _definitions() -> dict:
    return json.loads((_schema_dir() / "_definitions.json").read_text())["$defs"]


@functools.cache
def _root(kind: str) -> dict:
    return json.loads((_schema_dir() / SCHEMA_FILES[kind]).read_text())


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = _definitions()[schema["$ref"].rsplit("/", 1)[1]]
    return schema


_JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _json_type(value: Any) -> str:
    """The word Go's decoder uses for a JSON value it cannot put in a field."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", dict: "object", list: "array"}.get(type(value), "null")


def check_body(kind: str, obj: dict) -> list[str]:
    """Check `obj` (a Job or ConfigMap body) in place: unknown fields are removed and returned
    as warnings; KubeError 400 for a wrong type."""
    if kind not in SCHEMA_FILES:
        return []
    warnings: list[str] = []
    _walk(kind, obj, _root(kind), "", warnings)
    return warnings


def _walk(kind: str, node: Any, schema: dict, path: str, warnings: list[str]) -> None:
    schema = _resolve(schema)
    if "oneOf" in schema:  # IntOrString, Quantity: any of the alternatives' types
        options = [_resolve(option) for option in schema["oneOf"]]
        if not any(_type_matches(node, option) for option in options):
            _wrong_type(kind, node, path, " or ".join(_types(o)[0] for o in options))
        return
    if not _type_matches(node, schema):
        _wrong_type(kind, node, path, _types(schema)[0])
    if isinstance(node, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key in list(node):
            where = f"{path}.{key}"
            if properties is not None and key in properties:
                _walk(kind, node[key], properties[key], where, warnings)
            elif isinstance(extra, dict):
                _walk(kind, node[key], extra, where, warnings)
            elif properties is not None or extra is False:
                warnings.append(f'unknown field "{where.lstrip(".")}"')
                del node[key]
    elif isinstance(node, list) and "items" in schema:
        for index, item in enumerate(node):
            _walk(kind, item, schema["items"], f"{path}[{index}]", warnings)


def _types(schema: dict) -> list[str]:
    types = schema.get("type") or []
    return [types] if isinstance(types, str) else list(types) or ["any"]


def _type_matches(value: Any, schema: dict) -> bool:
    types = _types(schema)
    return "any" in types or any(_JSON_TYPES[t](value) for t in types if t in _JSON_TYPES)


def _wrong_type(kind: str, value: Any, path: str, expected: str) -> None:
    raise KubeError(
        400,
        f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal'
        f" {_json_type(value)} into Go struct field {kind}{path} of type {expected}",
    )


def json_body(body: bytes) -> dict:
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        raise KubeError(400, "the object provided is unrecognized (must be a JSON object)")
    return obj


def checked_object(route, obj: dict) -> dict:
    """A ConfigMap or custom object to create, checked as the server checks what we use."""
    kind = BUILT_IN_KINDS.get(route.key) or obj.get("kind")
    if not kind:
        raise KubeError(400, f"Object 'Kind' is missing in '{json.dumps(obj)}'")
    if obj.get("apiVersion", route.api_version) != route.api_version:
        raise KubeError(
            400,
            f"the API version in the data ({obj['apiVersion']}) does not match the "
            f"expected API version ({route.api_version})",
        )
    meta = obj.setdefault("metadata", {})
    if meta.get("namespace") not in (None, route.namespace):
        raise KubeError(
            400,
            "the namespace of the provided object does not match the namespace sent on the request",
        )
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + random_suffix()
    name = meta.get("name") or ""
    if not name or len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        group = f".{route.group}" if route.group else ""
        raise KubeError(
            422,
            f'{kind}{group} "{name}" is invalid: metadata.name: Invalid value: "{name}": '
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character",
            details={"name": name, "group": route.group, "kind": kind},
        )
    obj.update(apiVersion=route.api_version, kind=kind)
    return obj

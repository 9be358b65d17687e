"""Checks shared by launches, queues and jobs: pydantic errors as launchbay's one-line
BadInput, and the strings a process can be given."""

import json
from typing import Any

from store import BadInput


def check_model(model_class, data: dict, prefix: str):
    """Validate `data` with a pydantic model; a failure names the field and what was expected."""
    import pydantic

    try:
        return model_class.model_validate(data)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        location = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(model_class.model_fields)
            raise BadInput(location, f"unknown key; expected one of {allowed}") from None
        # A validator's ValueError is its own message: pydantic's "Value error, " prefix dropped.
        said = error["ctx"]["error"] if error["type"] == "value_error" else error["msg"]
        raise BadInput(location, f"{said} (got {error.get('input')!r})") from None


ENV_KEYS = frozenset({"env", "environment", "Environment"})
"""Keys under which a target's config holds environment variables (a mapping of name to value,
or Kubernetes' and Vertex's list of {name, value})."""


def check_process_strings(value: Any, field: str) -> None:
    """Refuse what no process can be given: a NUL byte in an argument or environment value (the
    OS ends C strings there), and an environment name that is empty or holds `=` or NUL. At
    launch and queue create, so a bad value is refused there, not when a run starts.
    (Recursive: documents are bounded to MAX_DEPTH levels where they enter.)"""
    if isinstance(value, str):
        if "\0" in value:
            raise BadInput(field, "contains a NUL byte; expected text without one")
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{field}.{key}" if field else str(key)
            if isinstance(key, str) and "\0" in key:
                raise BadInput(where, "contains a NUL byte; expected text without one")
            if key in ENV_KEYS:
                _check_env_names(item, where)
            check_process_strings(item, where)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_process_strings(item, f"{field}[{index}]")


def _check_env_names(env: Any, field: str) -> None:
    if isinstance(env, dict):
        names = list(env)
    elif isinstance(env, list):
        names = [entry.get("name") for entry in env if isinstance(entry, dict)]
    else:
        return  # not an env of a shape we know: the target's own check says what it expects
    for name in names:
        if isinstance(name, str) and (not name or "=" in name or "\0" in name):
            raise BadInput(
                field,
                f"{name!r} is not a valid environment variable name; expected a non-empty name"
                " without '=' or a NUL byte",
            )


def stringify_env(value: Any) -> Any:
    """A mapping's values as text: YAML gives `OMP_NUM_THREADS: 4` as an int, and an
    environment (or SageMaker's hyper-parameters) holds only strings. Anything else as it is,
    for the model's own check to refuse."""
    if not isinstance(value, dict):
        return value
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}

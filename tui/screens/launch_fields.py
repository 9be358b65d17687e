"""The launch form's two schema forms: the job's run config, and the queue's template variables
(sent as `--set-var NAME=TEXT`, as the CLI takes them). The form itself is the reusable
widgets.schema_form; field ids (`field_id`) are its."""

from __future__ import annotations

import json
from typing import Any

from ..widgets.schema_form import UNSET, SchemaForm, field_id

__all__ = ["CONFIG_HINT", "VARS_HINT", "UNSET", "field_id", "set_var_texts"]

CONFIG_HINT = "(the job declares no input schema; use ctrl+e to set run_config as YAML)"
VARS_HINT = "(this queue has none)"


def set_var_texts(form: SchemaForm) -> list[str]:
    """`NAME=TEXT` for each template variable filled in and valid: what `--set-var` carries."""
    return [f"{name}={_text(value)}" for name, value in form.values().items()]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)

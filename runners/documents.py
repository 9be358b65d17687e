"""Reading the YAML/JSON documents users hand us (launch specs, queue configs, schemas)."""

import json
from pathlib import Path
from typing import Any

from store import BadInput


def load_document(text_or_path: str, field: str) -> Any:
    """A .json/.yaml/.yml file, or a JSON (or YAML) string given inline."""
    candidate = Path(text_or_path).expanduser()
    # Inline documents have structure; a bare word is a file name that was mistyped.
    looks_inline = any(mark in text_or_path for mark in ":{[\n")
    if not looks_inline or _exists(candidate):
        if candidate.is_dir():
            raise BadInput(field, f"{text_or_path} is a directory; expected a .json or .yaml file")
        if not candidate.is_file():
            raise BadInput(
                field,
                f"{text_or_path} does not exist; expected a .json or .yaml file"
                " or an inline JSON object",
            )
        try:
            text = candidate.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError) as exc:
            raise BadInput(
                field, f"{text_or_path}: cannot read ({exc}); expected a UTF-8 .json or .yaml file"
            ) from None
        if candidate.suffix == ".json":
            return _parse_json(text, field, candidate.name)
        return parse_yaml(text, field, candidate.name)
    stripped = text_or_path.strip()
    if stripped.startswith(("{", "[")):
        return _parse_json(stripped, field, "the JSON string")
    return parse_yaml(stripped, field, "the string")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a long inline document is no file name the system accepts
        return False


def _parse_json(text: str, field: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            field, f"malformed JSON in {where} (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def parse_yaml(text: str, field: str, where: str) -> Any:
    """YAML text → data; malformed YAML is BadInput naming `field`, `where` and the line."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise BadInput(field, f"malformed YAML in {where}{place}: {problem}") from None


def expect_mapping(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(field, f"expected a mapping, got {type(value).__name__}")
    return value


def refuse_unknown_keys(value: dict, allowed: tuple[str, ...], field: str) -> None:
    for key in value:
        if key not in allowed:
            where = f"{field}.{key}" if field else str(key)
            raise BadInput(where, f"unknown key; expected one of {', '.join(allowed)}")

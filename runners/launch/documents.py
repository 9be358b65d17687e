"""Reading the YAML/JSON documents users hand us (launch specs, queue configs, schemas).

Every document is bounded where it enters (a file, an inline string, or a dict from a form):
at most MAX_DEPTH levels of nesting and about MAX_DOCUMENT_BYTES of content. Deeper or larger
documents are bad input, so nothing downstream (a recursive merge, json.dumps, an agent) can be
made to exhaust the stack or memory by one launch."""

import functools
import json
from pathlib import Path
from typing import Any

from store import BadInput

MAX_DEPTH = 64
"""Most levels of nested mappings and lists in one document (a real config uses under 10)."""
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
"""Most bytes of one document, as text, or as the estimated size of its data."""
MAX_YAML_ALIASES = 1000
"""Most `*alias` references in one YAML document (shared defaults, `<<: *base`). An alias bomb
needs far fewer: it is caught by the size its aliases expand to (see _expanded_size)."""

_END = object()


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
            if candidate.stat().st_size > MAX_DOCUMENT_BYTES:  # not read into memory at all
                raise BadInput(field, f"{text_or_path}: {_too_large()}")
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
    _check_text_size(text, field, where)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            field, f"malformed JSON in {where} (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:  # json's C parser recurses per level: far too deep to be a config
        raise BadInput(field, f"{where}: {_too_deep()}") from None
    check_document_bounds(value, field)
    return value


def parse_yaml(text: str, field: str, where: str) -> Any:
    """YAML text → data; malformed YAML is BadInput naming `field`, `where` and the line.
    Too deep, too large, or too many aliases is BadInput too (see MAX_DEPTH)."""
    import yaml

    _check_text_size(text, field, where)
    if _flow_depth_exceeds(text):
        # Checked on the text: PyYAML's scanner slows down quadratically on deep [[[…, long
        # before the composer would see the depth.
        raise BadInput(field, f"{where}: {_too_deep()}")
    loader = _bounded_loader_class()(text)
    try:
        value = loader.get_single_data()
    except _DocumentTooComplex as exc:
        raise BadInput(field, f"{where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise BadInput(field, f"malformed YAML in {where}{place}: {problem}") from None
    finally:
        loader.dispose()
    check_document_bounds(value, field)
    return value


@functools.cache
def _quoted_string_pattern():
    import re

    return re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^']|'')*'")


def _flow_depth_exceeds(text: str) -> bool:
    """Whether [ and { (outside quoted strings) nest deeper than MAX_DEPTH."""
    import re

    depth = 0
    for match in re.finditer(r"[\[\]{}]", _quoted_string_pattern().sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


class _DocumentTooComplex(Exception):
    """Raised inside the YAML composer; turned into BadInput with the field's name."""


@functools.cache
def _bounded_loader_class():
    """yaml.SafeLoader that counts nesting and aliases while it composes (built on first use:
    importing yaml costs time that commands without documents should not pay)."""
    import yaml

    class BoundedSafeLoader(yaml.SafeLoader):
        def __init__(self, stream):
            super().__init__(stream)
            self._depth = 0
            self._aliases = 0

        def compose_document(self):
            node = super().compose_document()
            if _expanded_size(node, {}) > MAX_DOCUMENT_BYTES:
                raise _DocumentTooComplex(_too_large())
            return node

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                self._aliases += 1
                if self._aliases > MAX_YAML_ALIASES:
                    raise _DocumentTooComplex(
                        f"more than {MAX_YAML_ALIASES} aliases (*name); expected at most"
                        f" {MAX_YAML_ALIASES}"
                    )
                return super().compose_node(parent, index)
            if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
                return super().compose_node(parent, index)  # a scalar nests nothing
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    raise _DocumentTooComplex(_too_deep())
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return BoundedSafeLoader


def _expanded_size(node, sizes: dict) -> int:
    """The size a YAML node graph has once every alias is expanded, each shared node counted
    once per reference but computed once (linear in the document, however it expands).
    Recursion is bounded: the composer has already refused nesting deeper than MAX_DEPTH."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    if isinstance(node.value, str):
        size = len(node.value) + 2
    else:
        size = 2 + len(node.value)
        for child in node.value:
            pair = child if isinstance(child, tuple) else (child,)
            size += sum(_expanded_size(part, sizes) for part in pair)
            if size > MAX_DOCUMENT_BYTES:
                break  # enough to refuse it
    sizes[id(node)] = size
    return size


def _check_text_size(text: str, field: str, where: str) -> None:
    if len(text) > MAX_DOCUMENT_BYTES:
        raise BadInput(field, f"{where}: {_too_large()}")


def check_document_bounds(value: Any, field: str) -> None:
    """Refuse a document (parsed, or a dict from a form) nested deeper than MAX_DEPTH or larger
    than about MAX_DOCUMENT_BYTES. Iterative, with memory bounded by the depth, and it stops as
    soon as the budget is spent: a structure sharing one list many times over (what YAML
    aliases give) is counted as expanded, and refused before it is walked to the end."""
    budget = MAX_DOCUMENT_BYTES
    stack = [(iter(((None, value),)), "")]
    while stack:
        children, path = stack[-1]
        key, node = next(children, (None, _END))
        if node is _END:
            stack.pop()
            continue
        where = f"{path}.{key}" if path and key is not None else str(key if key is not None else "")
        if isinstance(node, dict | list | tuple):
            if len(stack) > MAX_DEPTH:
                raise BadInput(field, _too_deep(where))
            budget -= 2 + len(node)
            if isinstance(node, dict):
                budget -= sum(len(str(k)) for k in node)
                stack.append((iter(node.items()), where))
            else:
                stack.append((enumerate(node), where))
        else:
            budget -= len(node) + 2 if isinstance(node, str | bytes) else 8
        if budget < 0:
            raise BadInput(field, _too_large())


def _too_deep(where: str = "") -> str:
    at = f" at {where}" if where else ""
    return f"nested deeper than {MAX_DEPTH} levels{at}; expected at most {MAX_DEPTH}"


def _too_large() -> str:
    return f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB; expected a smaller document"


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

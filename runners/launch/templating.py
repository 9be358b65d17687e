"""Queue template variables (`{{name}}`) and launch macros (`${run_id}`, `${env:NAME}`)."""

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from runners.launch.schema import check_variable_schema, parse_variable
from store import BadInput

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# `$${…}` escapes a literal `${…}`.
MACRO = re.compile(r"\$(\$?)\{([^}]*)\}")
MACRO_NAMES = (
    "run_id",
    "run_name",
    "author",
    "job_name",
    "job_version",
    "queue_name",
    "image_uri",
)
# W&B's macros (LaunchProject.fill_macros) that name what launchbay does not have.
NO_MEANING_HERE = {
    "project_name": "launchbay has no W&B project; use ${job_name} or ${env:WANDB_PROJECT}",
    "entity_name": "launchbay has no W&B entity; use ${env:WANDB_ENTITY} for the agent's",
}
# W&B's `${NAME}` for an agent environment variable: launchbay spells it `${env:NAME}`.
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# W&B's form of a variable: `{schema: {type, enum, minimum, …}}`, with `name` and
# `description` beside it (its API and Terraform provider write both).
WANDB_VARIABLE_KEYS = frozenset({"schema", "name", "description"})


def walk_strings(value: Any, transform: Callable[[str], Any]) -> Any:
    """A copy of `value` with every string (not key) replaced by `transform(string)`."""
    if isinstance(value, str):
        return transform(value)
    if isinstance(value, dict):
        return {key: walk_strings(item, transform) for key, item in value.items()}
    if isinstance(value, list):
        return [walk_strings(item, transform) for item in value]
    return value


def placeholders_in(value: Any) -> set[str]:
    found: set[str] = set()

    def collect(text: str) -> str:
        found.update(PLACEHOLDER.findall(text))
        return text

    walk_strings(value, collect)
    return found


def strings_by_path(value: Any, path: str = "") -> dict[str, str]:
    """Every string in `value` by where it sits: {"env.TOKEN": "…", "volumes[0]": "…"}."""
    if isinstance(value, str):
        return {path: value}
    found: dict[str, str] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            found.update(strings_by_path(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.update(strings_by_path(item, f"{path}[{index}]"))
    return found


def reads_agent_env(text: str) -> bool:
    return any(not escaped and name.startswith("env:") for escaped, name in MACRO.findall(text))


def check_no_agent_env(launch_args: dict, queue_args: dict) -> None:
    """A launch's resource_args may not read the agent's environment (`${env:NAME}`) into the
    job's sandbox: only the queue's own config may, and a launch may repeat what it says."""
    queue_strings = strings_by_path(queue_args)
    for where, text in strings_by_path(launch_args).items():
        if reads_agent_env(text) and queue_strings.get(where) != text:
            raise BadInput(
                f"resource_args.{where}",
                "${env:…} reads the agent's environment; only the queue's own config may use it",
            )


def check_variables_are_enums(value: Any, variables: dict, field: str) -> None:
    """Placeholders in a setting that reaches out of the sandbox (a mount, a network, a user)
    must be variables with an `enum`: else a launch could set it to anything."""
    for name in sorted(placeholders_in(value)):
        if "enum" not in (variables.get(name) or {}):
            raise BadInput(
                f"template_variables.{name}",
                f"{{{{{name}}}}} sets {field}, which reaches out of the sandbox; expected an"
                " enum of the values a launch may choose",
            )


def normalize_variables(variables: dict) -> dict:
    """launchbay's form of each variable (`{type, enum, …, description}`), W&B's taken too:
    `{NAME: {schema: {…}, description}}`, or `{KEY: {name: NAME, schema: {…}}}`."""
    normalized: dict = {}
    for key, spec in variables.items():
        name = key
        if isinstance(spec, dict) and "schema" in spec and set(spec) <= WANDB_VARIABLE_KEYS:
            name = spec.get("name", key)
            schema = spec["schema"]
            if not isinstance(schema, dict):
                raise BadInput(f"template_variables.{key}.schema", "expected a mapping")
            spec = {**schema}
            if "description" in variables[key] and "description" not in spec:
                spec["description"] = variables[key]["description"]
        if name in normalized:
            raise BadInput(f"template_variables.{key}", f"declares {name!r} a second time")
        normalized[name] = spec
    return normalized


def spec_variable_values(values: Any) -> dict[str, str]:
    """A launch spec's `template_variables: {NAME: VALUE}` (W&B's), as --set-var text."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise BadInput("template_variables", "expected a mapping of name to value")
    texts = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadInput(f"template_variables.{name}", f"{value!r}; expected a string or number")
        texts[str(name)] = value if isinstance(value, str) else repr(value)
    return texts


def check_template_variables(resource_args: dict, variables: Any) -> dict:
    """Check a queue's variable schemas and that every `{{name}}` in its config is declared."""
    variables = variables or {}
    if not isinstance(variables, dict):
        raise BadInput("template_variables", "expected a mapping of name to schema")
    variables = normalize_variables(variables)
    for name, schema in variables.items():
        check_variable_schema(name, schema)
    undeclared = placeholders_in(resource_args) - set(variables)
    if undeclared:
        name = sorted(undeclared)[0]
        raise BadInput(
            f"template_variables.{name}",
            f"{{{{{name}}}}} is used in resource_args but not declared",
        )
    return variables


def resolve_variables(
    variables: dict, set_vars: Mapping[str, str], from_spec: Collection[str] = ()
) -> dict[str, Any]:
    """Typed values for every variable: `--set-var` text, else the default; all checked. A
    value of a name in `from_spec` came from the launch spec's `template_variables`, and its
    refusal names that field."""

    def field(name: str) -> str:
        return f"template_variables.{name}" if name in from_spec else f"--set-var {name}"

    for name in set_vars:
        if name not in variables:
            known = ", ".join(variables) or "(this queue has none)"
            raise BadInput(field(name), f"unknown template variable; expected one of {known}")
    values: dict[str, Any] = {}
    for name, schema in variables.items():
        if name in set_vars:
            values[name] = parse_variable(name, schema, set_vars[name], field(name))
        elif "default" in schema:
            values[name] = schema["default"]
        else:
            raise BadInput(
                f"--set-var {name}",
                "missing; this queue's config needs it"
                f" ({schema.get('description') or schema['type']})",
            )
    return values


def fill_placeholders(value: Any, values: Mapping[str, Any]) -> Any:
    """A string that is exactly `{{name}}` becomes the typed value; inside text, its text.

    A variable's value is launch input: a macro that its text is part of (`${env:…}` given
    to `--set-var`, or a `$` that meets the queue's `{…}`) is escaped, so that the one macro
    pass at claim keeps it as literal text. Macros are expanded in queue-owned text only."""

    def fill(text: str) -> Any:
        whole = PLACEHOLDER.fullmatch(text.strip())
        if whole:
            filled = values[whole.group(1)]
            return escape_macros(filled, [(0, len(filled))]) if isinstance(filled, str) else filled
        parts, spans, end = [], [], 0
        for match in PLACEHOLDER.finditer(text):
            parts.append(text[end : match.start()])
            start = sum(map(len, parts))
            parts.append(str(values[match.group(1)]))
            spans.append((start, start + len(parts[-1])))
            end = match.end()
        parts.append(text[end:])
        return escape_macros("".join(parts), spans)

    return walk_strings(value, fill)


def escape_macros(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with every macro that overlaps one of `spans` (substituted text) escaped, so
    that the macro pass gives back the text as it is: expanding it would run launch input."""
    if not spans:
        return text
    out, end = [], 0
    for match in MACRO.finditer(text):
        # One more `$` keeps the text exact: `${x}` becomes `$${x}`, `$${x}` becomes `$$${x}`.
        if any(start < match.end() and match.start() < stop for start, stop in spans):
            out.append(text[end : match.start()] + "$")
            end = match.start()
    out.append(text[end:])
    return "".join(out)


def check_macros(value: Any, field: str) -> None:
    """Refuse a macro that has no meaning here, before anything is stored: at queue create
    (the queue's config) and at launch. The error names where it sits and the macro."""
    for where, text in strings_by_path(value, field).items():
        for escaped, name in MACRO.findall(text):
            if escaped or (name.startswith("env:") and len(name) > 4) or name in MACRO_NAMES:
                continue
            if name in NO_MEANING_HERE:
                raise BadInput(where, f"${{{name}}} is W&B's; {NO_MEANING_HERE[name]}")
            if ENV_NAME.fullmatch(name) and name.isupper():
                raise BadInput(
                    where,
                    f"${{{name}}}: W&B reads the agent's environment so; here write"
                    f" ${{env:{name}}}",
                )
            raise BadInput(
                where,
                f"unknown macro ${{{name}}}; expected one of "
                + ", ".join(f"${{{m}}}" for m in MACRO_NAMES)
                + ", ${env:NAME}",
            )


def substitute_macros(value: Any, macros: Mapping[str, str], environ: Mapping[str, str]) -> Any:
    """Replace macros in every string; `${env:NAME}` reads the agent's environment."""

    def substitute(match: re.Match) -> str:
        escaped, name = match.groups()
        if escaped:
            return "${" + name + "}"
        if name.startswith("env:"):
            var = name[4:]
            if var not in environ:
                raise BadInput(f"${{{name}}}", f"{var} is not set in the agent's environment")
            return environ[var]
        if name not in macros:
            raise BadInput(f"${{{name}}}", "unknown macro")
        return macros[name]

    return walk_strings(value, lambda text: MACRO.sub(substitute, text))

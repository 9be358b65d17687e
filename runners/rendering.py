"""The rendered spec: exactly what a runner receives for one run.

Built in two steps. At enqueue (`build_launch`): the queue's config with its template variables
filled, the launch's resource_args merged over it, the run config from the schema's defaults and
the overrides, all checked. At claim (`render_spec`), once the run id exists: macros substituted
and the job's environment added.
"""

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from store import JobVersion

from .templating import substitute_macros

ENV_PREFIX = "LAUNCHBAY_"
# Linux caps one environment string at 128 KiB (MAX_ARG_STRLEN); stay well below.
DEFAULT_ENV_VALUE_LIMIT = 100_000
SECRET_MARKERS = (
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "API_KEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "AUTH",
)
REDACTED = "***"


def deep_merge(base: Any, override: Any) -> Any:
    """`override` over `base`: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for key, value in override.items():
            merged[key] = (
                deep_merge(merged.get(key), value) if key in merged else copy.deepcopy(value)
            )
        return merged
    return copy.deepcopy(override)


def default_entry_point(job: JobVersion) -> list[str] | None:
    if job.entrypoint is not None:
        return list(job.entrypoint)
    if job.type in ("code", "git"):
        return ["python", "main.py"]
    return None  # an image's own entrypoint


def render_spec(
    *,
    job: JobVersion,
    queue: str,
    resource: str,
    launch: dict,
    run_id: str,
    item_id: int | None,
    config_file: str,
    environ: Mapping[str, str],
    env_value_limit: int = DEFAULT_ENV_VALUE_LIMIT,
    resume_count: int = 0,
) -> dict:
    """The spec for one run: the enqueued launch with macros substituted and the env added."""
    image = job.source.get("image", "") if job.type == "image" else ""
    macros = {
        "run_id": run_id,
        "job_name": job.name,
        "job_version": f"v{job.version}",
        "queue_name": queue,
        "image_uri": image,
    }
    rendered = substitute_macros(
        {key: launch.get(key) for key in ("run_config", "args", "entry_point", "resource_args")},
        macros,
        environ,
    )
    config_json = json.dumps(rendered["run_config"], sort_keys=True)
    env = {
        "LAUNCHBAY_RUN_ID": run_id,
        "LAUNCHBAY_JOB": job.ref,
        "LAUNCHBAY_QUEUE": queue,
        "LAUNCHBAY_ITEM_ID": "" if item_id is None else str(item_id),
        **config_env(config_json, env_value_limit),
        "LAUNCHBAY_CONFIG_FILE": config_file,
    }
    if resume_count:
        env["LAUNCHBAY_RESUME_COUNT"] = str(resume_count)  # a requeued preempted run: resume
    return {
        "run_id": run_id,
        "item_id": item_id,
        "job": {
            "name": job.name,
            "version": job.version,
            "ref": job.ref,
            "type": job.type,
            "source": job.source,
            "digest": job.digest,
        },
        "queue": queue,
        "resource": resource,
        "image": image or None,
        "entry_point": rendered["entry_point"],
        "args": rendered["args"] or [],
        "run_config": rendered["run_config"],
        "resource_args": rendered["resource_args"],
        "env": env,
        "resume_count": resume_count,
        **({"build": launch["build"]} if launch.get("build") else {}),
        **({"target": launch["target"]} if launch.get("target") else {}),
    }


def config_env(config_json: str, limit: int) -> dict[str, str]:
    """LAUNCHBAY_CONFIG, or when longer than `limit`, LAUNCHBAY_CONFIG_0..N-1 and _CHUNKS."""
    if len(config_json) <= limit:
        return {"LAUNCHBAY_CONFIG": config_json}
    chunks = [config_json[i : i + limit] for i in range(0, len(config_json), limit)]
    env = {f"LAUNCHBAY_CONFIG_{index}": chunk for index, chunk in enumerate(chunks)}
    env["LAUNCHBAY_CONFIG_CHUNKS"] = str(len(chunks))
    return env


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS)


def redact(value: Any) -> Any:
    """A copy for display: values under secret-looking keys (…TOKEN, …PASSWORD) hidden, and
    hidden too wherever they were copied into another string (an arg, LAUNCHBAY_CONFIG)."""
    secrets: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if _is_secret_pair(node) and isinstance(node["value"], str) and len(node["value"]) >= 4:
                secrets.add(node["value"])
            for key, item in node.items():
                secret_value = isinstance(item, str | int) and not isinstance(item, bool)
                if isinstance(key, str) and is_secret_name(key) and secret_value:
                    if len(str(item)) >= 4:  # too short to hide inside other text safely
                        secrets.add(str(item))
                else:
                    collect(item)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    def hide(node: Any) -> Any:
        if isinstance(node, dict) and _is_secret_pair(node):
            return {**node, "value": REDACTED}
        node = _hide_across_config_chunks(node, secrets)
        if isinstance(node, dict):
            return {
                key: REDACTED
                if isinstance(key, str)
                and is_secret_name(key)
                and isinstance(item, str | int | float)
                and not isinstance(item, bool)  # automountServiceAccountToken: false
                else hide(item)
                for key, item in node.items()
            }
        if isinstance(node, list):
            return [hide(item) for item in node]
        if isinstance(node, str):
            for secret in secrets:
                node = node.replace(secret, REDACTED)
        return node

    collect(value)
    # As a run config's JSON shows them (LAUNCHBAY_CONFIG): quotes, backslashes and non-ASCII
    # characters escaped.
    secrets |= {json.dumps(secret)[1:-1] for secret in secrets}
    return hide(value)


_CONFIG_CHUNK = re.compile(r"LAUNCHBAY_CONFIG_\d+")


def _hide_across_config_chunks(node: Any, secrets: set[str]) -> Any:
    """An env (a mapping, or a list of {name, value}) whose run config is cut into
    LAUNCHBAY_CONFIG_0..N, with every secret hidden in the chunks it spans: a secret cut in
    two is in neither chunk whole, so hiding chunk by chunk would show both halves."""
    if isinstance(node, dict) and "LAUNCHBAY_CONFIG_CHUNKS" in node:
        names = sorted(
            (k for k in node if isinstance(k, str) and _CONFIG_CHUNK.fullmatch(k)),
            key=_chunk_number,
        )
        hidden = _hide_spans([str(node[k]) for k in names], secrets)
        return {**node, **dict(zip(names, hidden, strict=True))}
    if isinstance(node, list) and any(
        isinstance(e, dict) and e.get("name") == "LAUNCHBAY_CONFIG_CHUNKS" for e in node
    ):
        at = sorted(
            (
                i
                for i, e in enumerate(node)
                if isinstance(e, dict) and _CONFIG_CHUNK.fullmatch(str(e.get("name")))
            ),
            key=lambda i: _chunk_number(node[i]["name"]),
        )
        hidden = _hide_spans([str(node[i].get("value", "")) for i in at], secrets)
        node = list(node)
        for i, text in zip(at, hidden, strict=True):
            node[i] = {**node[i], "value": text}
    return node


def _chunk_number(name: str) -> int:
    return int(name.rsplit("_", 1)[1])  # LAUNCHBAY_CONFIG_10 after _9, not after _1


def _hide_spans(chunks: list[str], secrets: set[str]) -> list[str]:
    """`chunks` with each part that belongs to a secret in their joined text shown as ***."""
    joined = "".join(chunks)
    secret_at = [False] * len(joined)
    for secret in secrets:
        start = joined.find(secret)
        while start != -1:
            secret_at[start : start + len(secret)] = [True] * len(secret)
            start = joined.find(secret, start + 1)
    hidden, offset = [], 0
    for chunk in chunks:
        text, in_secret = [], False
        for position, char in enumerate(chunk, offset):
            if not secret_at[position]:
                text.append(char)
            elif not in_secret:
                text.append(REDACTED)
            in_secret = secret_at[position]
        hidden.append("".join(text))
        offset += len(chunk)
    return hidden


def _is_secret_pair(node: dict) -> bool:
    """A Kubernetes-style env entry, {"name": "HF_TOKEN", "value": "…"}."""
    name = node.get("name")
    return "value" in node and isinstance(name, str) and is_secret_name(name)


def restore_redacted(edited: Any, original: Any) -> Any:
    """`edited` with every value still shown as *** under a secret-looking key put back to the
    original's value at the same place: an editor can show a config without its secrets and
    still save it whole."""
    if isinstance(edited, dict) and isinstance(original, dict):
        restored = {}
        for key, value in edited.items():
            if (
                value == REDACTED
                and isinstance(key, str)
                and is_secret_name(key)
                and key in original
            ):
                restored[key] = original[key]
            else:
                restored[key] = restore_redacted(value, original.get(key))
        return restored
    if isinstance(edited, list) and isinstance(original, list):
        return [restore_redacted(e, o) for e, o in zip(edited, original, strict=False)] + edited[
            len(original) :
        ]
    return edited

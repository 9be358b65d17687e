"""The rendered spec: exactly what a runner receives for one run.

Built in two steps. At enqueue (`build_launch`): the queue's config with its template variables
filled, the launch's resource_args merged over it, the run config from the schema's defaults and
the overrides, all checked. At claim (`render_spec`), once the run id exists: macros substituted
and the job's environment added.
"""

import copy
import json
from collections.abc import Mapping
from typing import Any

# Redaction lives in .redaction; the CLI and the TUI import it from here, as they always have.
from runners.launch.redaction import REDACTED as REDACTED
from runners.launch.redaction import SECRET_ENV_KEY
from runners.launch.redaction import is_secret_name as is_secret_name
from runners.launch.redaction import redact as redact
from runners.launch.redaction import restore_redacted as restore_redacted
from runners.launch.templating import substitute_macros
from runners.launch.wandb_env import WANDB_ENV_KEY, wandb_env
from store import JobVersion

ENV_PREFIX = "LAUNCHBAY_"
# Linux caps one environment string at 128 KiB (MAX_ARG_STRLEN); stay well below.
DEFAULT_ENV_VALUE_LIMIT = 100_000


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
    metrics_file: str | None = None,
    env_value_limit: int = DEFAULT_ENV_VALUE_LIMIT,
    resume_count: int = 0,
    attempt: int = 1,
) -> dict:
    """The spec for one run: the enqueued launch with macros substituted and the env added.
    `metrics_file`: LAUNCHBAY_METRICS_FILE as the job sees it, for targets whose files the
    agent reads live (runners/metrics/); others print the protocol's lines to their log."""
    image = job.source.get("image", "") if job.type == "image" else ""
    run_name = launch.get("run_name") or run_id
    macros = {
        "run_id": run_id,
        "run_name": run_name,
        "author": launch.get("author") or "",
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
        **({"LAUNCHBAY_METRICS_FILE": metrics_file} if metrics_file else {}),
    }
    if launch.get("sweep_id"):
        env["WANDB_SWEEP_ID"] = launch["sweep_id"]  # a sweep's trial, as W&B's agent says it
    if resume_count:
        env["LAUNCHBAY_RESUME_COUNT"] = str(resume_count)  # a requeued preempted run: resume
    if launch.get(WANDB_ENV_KEY, True):  # the queue's `wandb_env: false` turns them off
        wandb_overrides = launch.get("wandb_overrides") or {}
        env.update(
            wandb_env(
                run_id=run_id,
                queue=queue,
                item_id=item_id,
                run_config=rendered["run_config"],
                resource=resource,
                resume_count=resume_count,
                run_name=launch.get("run_name"),
                image=image or None,
                artifacts=wandb_overrides.get("artifacts"),
                files=wandb_overrides.get("files"),
                project=wandb_overrides.get("project"),
                entity=wandb_overrides.get("entity"),
            )
        )
    if launch.get("retry"):
        env["LAUNCHBAY_ATTEMPT"] = str(attempt)  # under a retry policy: 1, then each retry's
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
        **({"run_name": launch["run_name"]} if launch.get("run_name") else {}),
        # W&B's artifact and file overrides, as given (their env copies are JSON text): every
        # display finds their secrets here, to hide them there too.
        **({"wandb_overrides": launch["wandb_overrides"]} if launch.get("wandb_overrides") else {}),
        "env": env,
        "resume_count": resume_count,
        # Names the queue and the launch asked to hide: every display of the spec reads them.
        **({SECRET_ENV_KEY: launch[SECRET_ENV_KEY]} if launch.get(SECRET_ENV_KEY) else {}),
        **({"build": launch["build"]} if launch.get("build") else {}),
        **({"target": launch["target"]} if launch.get("target") else {}),
        **({"attempt": attempt, "retry": launch["retry"]} if launch.get("retry") else {}),
    }


def config_env(config_json: str, limit: int) -> dict[str, str]:
    """LAUNCHBAY_CONFIG, or when longer than `limit`, LAUNCHBAY_CONFIG_0..N-1 and _CHUNKS."""
    if len(config_json) <= limit:
        return {"LAUNCHBAY_CONFIG": config_json}
    chunks = [config_json[i : i + limit] for i in range(0, len(config_json), limit)]
    env = {f"LAUNCHBAY_CONFIG_{index}": chunk for index, chunk in enumerate(chunks)}
    env["LAUNCHBAY_CONFIG_CHUNKS"] = str(len(chunks))
    return env

"""The environment W&B's launch agent gives a run, so an unmodified W&B script works here.

W&B's agent builds it in `LaunchProject.get_env_vars_dict` (wandb/sdk/launch/_project_spec.py);
`wandb.init()` reads it back (`_handle_launch_config` in wandb/sdk/wandb_init.py: with
`WANDB_LAUNCH=True`, `WANDB_CONFIG` or its chunks `WANDB_CONFIG_0…` update `wandb.config`).
launchbay gives the variables that mean something without a W&B server, spelled and split
exactly as W&B's agent does, and never those that are the user's (`WANDB_API_KEY`,
`WANDB_MODE`, `WANDB_BASE_URL`; `WANDB_PROJECT` and `WANDB_ENTITY` unless the launch spec names
them): those reach the job only as the user set them.
"""

import getpass
import json
from typing import Any

from store import BadInput

WANDB_ENV_KEY = "wandb_env"
"""The queue config key (and the launch's copy of it) that turns these variables off."""

# W&B's MAX_ENV_LENGTHS (wandb/sdk/launch/utils.py): 32670 characters a value, 512 on
# SageMaker (AWS's cap on an Environment value). Keyed here by launchbay's resource name.
DEFAULT_MAX_ENV_LENGTH = 32670
MAX_ENV_LENGTHS = {"sagemaker": 512}
# AWS takes at most 100 Environment entries: past this many chunks (8 KiB of config) W&B's
# request would be refused; launchbay leaves WANDB_CONFIG out instead (the run config is still
# the file LAUNCHBAY_CONFIG_FILE), as it does its own LAUNCHBAY_CONFIG chunks.
MAX_ENV_CHUNKS = {"sagemaker": 16}

MAX_RUN_NAME = 128

# The variables W&B's agent sets that launchbay never does, and why (the README lists them).
NOT_GIVEN = {
    "WANDB_API_KEY": "the user's own, passed as they set it (never replaced by the agent's)",
    "WANDB_BASE_URL": "no W&B server is involved; the user's own setting passes",
    "WANDB_PROJECT": "only when the launch spec names a `project`; else the user's own passes",
    "WANDB_ENTITY": "only when the launch spec names an `entity`; else the user's own passes",
    "WANDB_USERNAME": "no W&B account enqueues the launch",
    # WANDB_SWEEP_ID: given, to a sweep's trials only (runners/launch/rendering.py), not here.
    "WANDB_SWEEP_ID": "a launch that is no sweep's trial has none",
    "WANDB_LAUNCH_QUEUE_ENTITY": "queues belong to no entity",
}


# W&B's launch spec keys that mean nothing here, and what to write instead.
WANDB_ONLY_SPEC_KEYS = {
    "docker": "W&B's docker block; give the image with -d/--docker-image and container"
    " settings in resource_args",
    "builder": "the queue's builder: and registry: say how code is built here",
    "registry": "the queue's registry: says where images are pushed here",
    "job": "give the job with -j, or its source with -u/-d",
    "uri": "give the source with -u/--uri",
    "git": "give the source with -u GIT_URL (a git job pins its commit)",
    "run_id": "launchbay picks each run's id when an agent claims it",
    "sweep_id": "a sweep gives its trials their sweep id (launchbay sweep create)",
}


def max_env_length(resource: str) -> int:
    return MAX_ENV_LENGTHS.get(resource, DEFAULT_MAX_ENV_LENGTH)


def split_env(name: str, value: Any, limit: int) -> dict[str, str]:
    """`name` = the JSON of `value`, or when longer than `limit`, `name_0`, `name_1`, … each at
    most `limit` characters: W&B's `_inject_wandb_config_env_vars` to the character (its JSON
    spelling, no count variable), so W&B's readers put it back together. Keys are sorted (W&B
    keeps the order it was given): the same config is the same text, run after run."""
    text = json.dumps(value, sort_keys=True)
    if len(text) <= limit:
        return {name: text}
    return {f"{name}_{i // limit}": text[i : i + limit] for i in range(0, len(text), limit)}


def wandb_env(
    *,
    run_id: str,
    queue: str,
    item_id: int | None,
    run_config: dict,
    resource: str,
    resume_count: int = 0,
    run_name: str | None = None,
    image: str | None = None,
    artifacts: dict | None = None,
    files: dict | None = None,
    project: str | None = None,
    entity: str | None = None,
) -> dict[str, str]:
    """The W&B variables for one run (see the module's docstring). `project` and `entity` are
    set only when the launch itself names them (W&B's launch spec keys)."""
    limit = max_env_length(resource)
    env = {
        "WANDB_LAUNCH": "True",
        "WANDB_RUN_ID": run_id,
        "WANDB_LAUNCH_QUEUE_NAME": queue,
    }
    if project:
        env["WANDB_PROJECT"] = project
    if entity:
        env["WANDB_ENTITY"] = entity
    if run_name:
        env["WANDB_NAME"] = run_name
    if image:
        env["WANDB_DOCKER"] = image
    if resume_count > 0:
        env["WANDB_RESUME"] = "allow"  # a requeued preempted run continues the same W&B run
    if item_id is not None:
        env["WANDB_LAUNCH_TRACE_ID"] = str(item_id)
    for name, value in (("WANDB_CONFIG", run_config), ("WANDB_LAUNCH_FILE_OVERRIDES", files or {})):
        pieces = split_env(name, value, limit)
        if len(pieces) <= MAX_ENV_CHUNKS.get(resource, len(pieces)):
            env.update(pieces)
    # W&B adds `_wandb_job: ENTITY/PROJECT/JOB:vN` here; a launchbay job is no W&B artifact,
    # and wandb.init() would try to fetch it. Only the launch's own artifact overrides go in.
    env["WANDB_ARTIFACTS"] = json.dumps(artifacts or {})
    return env


def check_wandb_name(value: Any, field: str) -> str:
    """A name W&B takes as one line of text: the run's (--name), a project's, an entity's."""
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_RUN_NAME
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        raise BadInput(
            field, f"{value!r}; expected a name of 1-{MAX_RUN_NAME} characters on one line"
        )
    return value


def launch_author() -> str:
    """Who enqueued a launch (${author}): the OS login name; W&B's is the W&B user's."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry: a bare container
        return ""

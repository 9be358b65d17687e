"""Turning a launch request (job, queue, overrides) into a checked queue item, or a preview."""

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runners.gpus.request import check_possible
from runners.images.settings import build_settings, launch_base_image, lift_builder
from runners.launch.documents import (
    check_document_bounds,
    expect_mapping,
    load_document,
    refuse_unknown_keys,
)
from runners.launch.redaction import SECRET_ENV_KEY, check_secret_env
from runners.launch.rendering import deep_merge, default_entry_point, render_spec
from runners.launch.retry import check_retry
from runners.launch.schema import build_run_config
from runners.launch.set_values import apply_set_values
from runners.launch.templating import (
    check_macros,
    check_no_agent_env,
    fill_placeholders,
    reads_agent_env,
    resolve_variables,
    spec_variable_values,
    strings_by_path,
)
from runners.launch.validation import check_process_strings
from runners.launch.wandb_env import (
    WANDB_ENV_KEY,
    WANDB_ONLY_SPEC_KEYS,
    check_wandb_name,
    launch_author,
)
from runners.protocol import Capability
from runners.registry import get_runner, resource_type
from store import BadInput, JobVersion, Priority, Queue, Store

SPEC_KEYS = (
    "overrides",
    "resource_args",
    "secret_env",
    "template_variables",
    "name",
    "project",
    "entity",
    "resource",
    "retry",
)
# `artifacts` and `files` are W&B's: they reach the job as WANDB_ARTIFACTS and
# WANDB_LAUNCH_FILE_OVERRIDES (runners/launch/wandb_env.py), which the wandb SDK reads.
OVERRIDE_KEYS = ("run_config", "args", "entry_point", "dockerfile", "artifacts", "files")
DRY_RUN_ID = "dryrun00"


@dataclass
class LaunchRequest:
    """What a user asked for, as given (CLI flags, a form, a relaunch)."""

    job: str
    queue: str
    spec: str | dict | None = None  # -c: a file, a JSON string, or an already-parsed dict
    set_vars: list[str] = field(default_factory=list)  # NAME=VALUE
    args: list[str] | None = None  # -a, each shlex-split
    entry_point: str | None = None  # -E, shlex-split
    priority: str = "medium"
    run_name: str | None = None  # --name: WANDB_NAME and ${run_name}
    resource_args: str | dict | None = None  # -R: replaces the spec's resource_args, as W&B's
    dockerfile: str | None = None  # -D: replaces the spec's overrides.dockerfile
    set_values: list[str] = field(default_factory=list)  # --set KEY=VALUE, into run_config


@dataclass(frozen=True)
class PreparedLaunch:
    """A checked launch, ready to enqueue or to preview."""

    job: JobVersion
    queue: Queue
    priority: Priority
    launch: dict


def prepare_launch(store: Store, request: LaunchRequest) -> PreparedLaunch:
    """Check everything that can be checked before an agent sees it. Raises BadInput."""
    try:
        priority = Priority.parse(request.priority)
    except KeyError:
        raise BadInput(
            "-P/--priority", f"{request.priority!r}; expected one of critical, high, medium, low"
        ) from None
    spec = _parse_spec(request.spec)
    # W&B's rule (_launch_add.py): the spec's template_variables, then --set-var over them.
    spec_vars = spec_variable_values(spec.get("template_variables"))
    cli_vars = _parse_set_vars(request.set_vars)
    set_vars = {**spec_vars, **cli_vars}
    if request.resource_args is not None:
        spec["resource_args"] = _load_resource_args(request.resource_args)
    job = store.jobs.resolve(request.job)
    queue = store.queues.get(request.queue)
    _check_resource(spec.get("resource"), queue)
    runner = get_runner(queue.resource)
    runner.check_job(job)

    overrides = spec.get("overrides", {})
    run_config = build_run_config(
        job.input_schema,
        apply_set_values(job.input_schema, overrides.get("run_config"), request.set_values),
    )
    args = _argv_list(overrides.get("args"), "overrides.args") or []
    if request.args is not None:
        args = [part for arg in request.args for part in _split(arg, "-a/--arg")]
    entry_point = default_entry_point(job)
    # An empty entry point is no override, as W&B reads it (`entry_point: []` in a launch
    # config made by W&B's UI): the job's own entry point runs.
    if overrides.get("entry_point") not in (None, [], ""):
        entry_point = _argv_list(overrides["entry_point"], "overrides.entry_point")
    if request.entry_point is not None:
        entry_point = _split(request.entry_point, "-E/--entry-point")
    if entry_point is not None and not entry_point:
        field = "-E/--entry-point" if request.entry_point is not None else "overrides.entry_point"
        raise BadInput(field, "is empty; expected a command")

    values = resolve_variables(queue.template_variables, set_vars, set(spec_vars) - set(cli_vars))
    queue_args = _queue_args(runner, queue, values)
    launch_args = unwrap_resource_args(spec.get("resource_args"), queue.resource, "resource_args")
    launch_args, launch_builder = lift_builder(launch_args, None)
    base_image = launch_base_image(
        launch_builder, queue.resource, Capability.BUILDS_IMAGES in runner.capabilities
    )
    launch_args = runner.normalize(launch_args)
    # What the launch may not do first: its refusal says more than a schema error would.
    # Against the queue's args in the runner's spelling: a W&B alias there (`-e NAME`) and
    # the canonical key in the launch are the same setting.
    check_no_agent_env(launch_args, queue_args)
    runner.check_launch_override(queue_args, launch_args, queue.config)
    resource_args = runner.check_resource_args(
        deep_merge(queue_args, launch_args), queue.config.get("target")
    )
    if Capability.SHARES_GPUS in runner.capabilities:
        check_possible(resource_args)  # more GPUs than this machine has would wait forever
    dockerfile = _dockerfile_override(
        request.dockerfile if request.dockerfile is not None else overrides.get("dockerfile"),
        runner,
        job,
        "-D/--dockerfile" if request.dockerfile is not None else "overrides.dockerfile",
    )

    launch = {
        "run_config": run_config,
        "args": args,
        "entry_point": entry_point,
        "resource_args": resource_args,
        "template_variables": values,
        # What the launch itself asked for: a relaunch repeats this, not the queue's settings
        # of the day (which the merged resource_args hold).
        "resource_args_override": launch_args,
        "author": launch_author(),
    }
    run_name = request.run_name if request.run_name is not None else spec.get("name")
    if run_name is not None:
        launch["run_name"] = check_wandb_name(run_name, "--name" if request.run_name else "name")
    wandb_overrides = {
        key: expect_mapping(overrides[key], f"overrides.{key}")
        for key in ("artifacts", "files")
        if overrides.get(key)
    }
    # W&B's `project` and `entity`: where the run's W&B data goes (WANDB_PROJECT, WANDB_ENTITY).
    for key in ("project", "entity"):
        if spec.get(key) is not None:
            wandb_overrides[key] = check_wandb_name(spec[key], key)
    if wandb_overrides:
        launch["wandb_overrides"] = wandb_overrides
    if queue.config.get(WANDB_ENV_KEY) is False:
        launch[WANDB_ENV_KEY] = False  # the queue's setting as it was at enqueue
    if (
        Capability.NEEDS_REGISTRY in runner.capabilities
        and job.type != "image"
        and not queue.config.get("registry")
    ):
        raise BadInput(
            "registry",
            f"queue {queue.name} has none; {job.ref} is a {job.type} job, built into an image"
            f" that {queue.resource} pulls from the queue's registry (registry: HOST/REPO)",
        )
    if Capability.BUILDS_IMAGES in runner.capabilities:
        launch["build"] = {**build_settings(queue.config), "dockerfile": dockerfile}
        if base_image:
            launch["build"]["base_image"] = base_image
    if queue.config.get("target"):
        launch["target"] = queue.config["target"]
    # The launch's own policy wins over the queue's (`retry: {max: 0}` turns it off).
    retry = spec["retry"] if spec.get("retry") is not None else queue.config.get("retry")
    if retry and retry["max"] > 0:
        launch["retry"] = retry
    if spec.get("retry") is not None:
        launch["retry_override"] = spec["retry"]  # the launch's own: a relaunch carries it
    secret_env = sorted({*queue.config.get(SECRET_ENV_KEY, []), *spec.get(SECRET_ENV_KEY, [])})
    if secret_env:
        launch[SECRET_ENV_KEY] = secret_env  # hidden wherever this launch and its run show
    for key in ("run_config", "args", "entry_point", "resource_args"):
        check_macros(launch[key], key)
    for key in ("args", "entry_point", "resource_args", "template_variables"):
        check_process_strings(launch[key], key)
    if Capability.BUILDS_IMAGES in runner.capabilities:
        # A container or cloud job doesn't inherit the agent's environment: a launch must not
        # copy it in (credentials, tokens) through a macro. The queue's own config may.
        for key in ("run_config", "args", "entry_point"):
            for where, text in strings_by_path(launch[key], key).items():
                if reads_agent_env(text):
                    raise BadInput(
                        where,
                        f"${{env:…}} would copy the agent's environment into a {queue.resource}"
                        " job; give the value itself, or put it in the queue's config",
                    )
    return PreparedLaunch(job=job, queue=queue, priority=priority, launch=launch)


def enqueue(store: Store, prepared: PreparedLaunch, *, resume_count: int = 0) -> int:
    return store.items.enqueue(
        prepared.queue.id,
        prepared.job.id,
        prepared.job.ref,
        prepared.launch,
        prepared.priority,
        resume_count=resume_count,
    )


def check_still_allowed(queue: Queue, launch: dict) -> None:
    """At claim time: what the launch asked for, checked against the queue's config of now, so
    a grant the queue's owner has taken back reaches the items already waiting (and the
    requeued ones)."""
    launch_args = launch.get("resource_args_override")
    if not launch_args:
        return  # the launch asked for nothing of its own: the queue's settings apply
    runner = get_runner(queue.resource)
    # The values the launch was given, and the defaults of variables added to the queue since.
    values = {
        **{n: s["default"] for n, s in queue.template_variables.items() if "default" in s},
        **(launch.get("template_variables") or {}),
    }
    runner.check_launch_override(_queue_args(runner, queue, values), launch_args, queue.config)


def _queue_args(runner, queue: Queue, values: Mapping[str, Any]) -> dict:
    """The queue's resource_args with its variables filled in, in the runner's spelling."""
    try:
        return runner.normalize(fill_placeholders(queue.resource_args, values))
    except KeyError as missing:  # at claim: a variable added to the queue since the launch
        raise BadInput(
            f"--set-var {missing.args[0]}",
            "the queue's config needs it now and the launch has no value for it",
        ) from None


def preview(
    store: Store, prepared: PreparedLaunch, environ: Mapping[str, str] | None = None
) -> dict:
    """The spec the runner would get, with a placeholder run id (the real one is chosen at
    claim time). `${env:…}` macros read this process's environment, standing in for the
    agent's."""
    runner = get_runner(prepared.queue.resource)
    run_dir = store.run_dir(DRY_RUN_ID)
    spec = render_spec(
        job=prepared.job,
        queue=prepared.queue.name,
        resource=resource_type(prepared.queue.resource).name,
        launch=prepared.launch,
        run_id=DRY_RUN_ID,
        item_id=None,
        config_file=runner.config_file_path(run_dir),
        environ=os.environ if environ is None else environ,
        metrics_file=runner.metrics_file_path(run_dir),
    )
    spec["priority"] = prepared.priority.label
    submission = runner.preview_submission(spec)
    if submission is not None:
        spec["submission"] = submission
    return spec


def unwrap_resource_args(value, resource: str, field: str) -> dict:
    """Accept both `resource_args: {...}` and W&B's `resource_args: {<resource>: {...}}`."""
    value = expect_mapping(value, field)
    if len(value) == 1:
        ((key, inner),) = value.items()
        try:
            named = resource_type(key).name
        except BadInput:
            return value
        if named != resource_type(resource).name:
            raise BadInput(
                f"{field}.{key}",
                f"this queue's resource is {resource}; expected"
                f" {field}.{resource} or its keys directly",
            )
        return expect_mapping(inner, f"{field}.{key}")
    return value


def _dockerfile_override(value, runner, job: JobVersion, field: str) -> str | None:
    """overrides.dockerfile: a Dockerfile inside the job's code, used instead of the job's."""
    if value is None:
        return None
    if Capability.BUILDS_IMAGES not in runner.capabilities:
        raise BadInput(field, "this queue's resource runs no containers; expected no dockerfile")
    if job.type == "image":
        raise BadInput(field, f"{job.ref} is an image job; only code and git jobs are built")
    if (
        not isinstance(value, str)
        or not value
        or Path(value).is_absolute()
        or ".." in Path(value).parts
    ):
        raise BadInput(field, f"{value!r}; expected a relative path inside the job's code")
    return value


def _check_resource(value, queue: Queue) -> None:
    """A spec's `resource` (W&B's) must be the queue's: the queue decides where a run goes."""
    if value is None:
        return
    named = resource_type(value).name if isinstance(value, str) else None
    if named != resource_type(queue.resource).name:
        raise BadInput(
            "resource", f"{value!r}; queue {queue.name} runs on {queue.resource}, expected that"
        )


def _load_resource_args(value: str | dict) -> dict:
    field = "-R/--resource-args"
    if isinstance(value, str):
        value = load_document(value, field)
    else:
        check_document_bounds(value, field)
    return expect_mapping(value, field)


def _parse_set_vars(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise BadInput("--set-var", f"{item!r}; expected NAME=VALUE")
        values[name] = value
    return values


def _parse_spec(spec) -> dict:
    if spec is None:
        return {}
    if isinstance(spec, str):
        spec = load_document(spec, "-c/--config")
    else:  # a dict from the app's form or a relaunch: bounded like a file would be
        check_document_bounds(spec, "launch spec")
    spec = expect_mapping(spec, "launch spec")
    for key in spec:
        if key in WANDB_ONLY_SPEC_KEYS:
            raise BadInput(key, f"is W&B's; {WANDB_ONLY_SPEC_KEYS[key]}")
    refuse_unknown_keys(spec, SPEC_KEYS, "")
    overrides = expect_mapping(spec.get("overrides"), "overrides")
    refuse_unknown_keys(overrides, OVERRIDE_KEYS, "overrides")
    if "args" in overrides and not isinstance(overrides["args"], list):
        raise BadInput("overrides.args", f"expected a list, got {type(overrides['args']).__name__}")
    secret_env = check_secret_env(spec.get(SECRET_ENV_KEY), SECRET_ENV_KEY)
    retry = check_retry(spec.get("retry"))
    return {**spec, "overrides": overrides, SECRET_ENV_KEY: secret_env, "retry": retry}


def _argv_list(value, field: str) -> list[str] | None:
    """A list of strings (as given), or a string shlex-split into one."""
    if value is None:
        return None
    if isinstance(value, str):
        return _split(value, field)
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise BadInput(field, "expected a list of strings")
    return [str(v) for v in value]


def _split(text: str, field: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise BadInput(field, f"{text!r}: {exc}") from None


def load_schema_file(path: str) -> dict:
    from runners.launch.schema import check_input_schema

    if not Path(path).expanduser().is_file():
        raise BadInput("--schema", f"{path} does not exist; expected a JSON or YAML file")
    return check_input_schema(load_document(path, "--schema"), "--schema")

"""Creating and editing queues: the config is checked against the resource type first."""

from typing import Any

from runners.images.settings import check_builder, check_registry, lift_builder
from runners.launch.documents import (
    check_document_bounds,
    expect_mapping,
    load_document,
    refuse_unknown_keys,
)
from runners.launch.redaction import check_secret_env
from runners.launch.request import unwrap_resource_args
from runners.launch.retry import check_retry
from runners.launch.templating import check_macros, check_template_variables, fill_placeholders
from runners.launch.validation import check_process_strings
from runners.launch.wandb_env import WANDB_ENV_KEY
from runners.protocol import Capability
from runners.registry import get_runner, resource_type
from store import BadInput, Queue, Store
from store.queues import MAX_CONCURRENCY_LIMIT, check_max_concurrency

CONFIG_KEYS = (
    "resource_args",
    "template_variables",
    "registry",
    "builder",
    "target",
    "max_resumes",
    "secret_env",
    "backfill",
    WANDB_ENV_KEY,
    "retry",
    "notify",
)
MAX_RESUMES_LIMIT = 100


def check_queue_config(resource: str, document: Any) -> dict:
    """A queue config ({resource_args, template_variables}) checked for `resource`."""
    check_document_bounds(document, "config")  # also a dict from the app's editor
    document = expect_mapping(document, "config")
    refuse_unknown_keys(document, CONFIG_KEYS, "")
    resource_args = unwrap_resource_args(document.get("resource_args"), resource, "resource_args")
    resource_args, builder_document = lift_builder(resource_args, document.get("builder"))
    variables = check_template_variables(resource_args, document.get("template_variables"))
    # Check the config as it will be used: with each variable at a value it may take.
    sample = fill_placeholders(resource_args, {n: _sample_value(s) for n, s in variables.items()})
    runner = get_runner(resource)
    target = runner.check_target(document.get("target"))
    runner.check_template_placement(resource_args, variables)
    runner.check_resource_args(sample, target)
    check_process_strings(resource_args, "resource_args")
    # A macro with no meaning here is refused now, not at every launch of the queue.
    check_macros(resource_args, "resource_args")
    config = {"resource_args": resource_args, "template_variables": variables}
    build_document = {"registry": document.get("registry"), "builder": builder_document}
    for key, value in build_document.items():
        if value is not None and Capability.BUILDS_IMAGES not in runner.capabilities:
            raise BadInput(key, f"{resource} queues build no images; expected no {key}")
    registry, builder = (
        check_registry(build_document["registry"]),
        check_builder(build_document["builder"]),
    )
    if registry:
        config["registry"] = registry
    if builder:
        config["builder"] = builder
    if target:
        config["target"] = target
    if document.get("secret_env") is not None:
        config["secret_env"] = check_secret_env(document["secret_env"], "secret_env")
    if document.get("max_resumes") is not None:
        config["max_resumes"] = _check_max_resumes(document["max_resumes"])
    if document.get("retry") is not None:
        config["retry"] = check_retry(document["retry"])
    if document.get("notify") is not None:
        from runners.notify.settings import check_notify  # pydantic: only when one is given

        config["notify"] = check_notify(document["notify"])
    if document.get("backfill") is not None:
        config["backfill"] = _check_backfill(document["backfill"], runner)
    if document.get(WANDB_ENV_KEY) is not None:
        config[WANDB_ENV_KEY] = _check_wandb_env(document[WANDB_ENV_KEY])
    return config


def _check_wandb_env(value: Any) -> bool:
    """Whether runs get the variables W&B's agent gives a run (WANDB_CONFIG, WANDB_RUN_ID,
    WANDB_LAUNCH=True, …; runners/launch/wandb_env.py) beside the LAUNCHBAY_* ones. On unless
    this says false: a queue whose jobs use wandb but must not see themselves as launched."""
    if not isinstance(value, bool):
        raise BadInput(WANDB_ENV_KEY, f"{value!r}; expected true or false")
    return value


def _check_backfill(value: Any, runner) -> bool:
    """Whether later items may start ahead of a head waiting for GPUs, where they can't delay
    it (runners/gpus/backfill.py)."""
    if not isinstance(value, bool):
        raise BadInput("backfill", f"{value!r}; expected true or false")
    if value and Capability.SHARES_GPUS not in runner.capabilities:
        raise BadInput(
            "backfill", f"{runner.resource_type} queues hand out no GPUs; expected no backfill"
        )
    return value


def _check_max_resumes(value: Any) -> int:
    """How often a preempted run is requeued (0: never)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RESUMES_LIMIT:
        raise BadInput("max_resumes", f"{value!r}; expected a whole number from 0 to 100")
    return value


def _sample_value(schema: dict) -> Any:
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if schema["type"] == "string":
        return ""
    return schema.get("minimum", schema.get("maximum", 0))


def create_queue(
    store: Store,
    name: str,
    resource: str,
    config_source: str | None = None,
    max_concurrency: int | None = None,
    check_reachable: bool = False,
) -> Queue:
    """`check_reachable`: also ask the target's backend whether it answers (`--check`)."""
    canonical = resource_type(resource).name
    document = load_document(config_source, "--config") if config_source else {}
    config = check_queue_config(canonical, document)
    if check_reachable:
        get_runner(canonical).check_reachable(config)
    return store.queues.create(name, canonical, config, max_concurrency)


def parse_max_concurrency(text: str, field: str = "max concurrency") -> int | None:
    """'' (or 'none') is no limit; otherwise a whole number in the store's range."""
    text = text.strip()
    if not text or text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        expected = f"a whole number from 1 to {MAX_CONCURRENCY_LIMIT:_}, or nothing for no limit"
        raise BadInput(field, f"{text!r}; expected {expected}") from None
    check_max_concurrency(value, field)
    return value


def update_queue(
    store: Store,
    name: str,
    document: Any = None,
    max_concurrency: int | None | type(...) = ...,
    check_reachable: bool = False,
) -> Queue:
    """Replace a queue's config (`document`, as the editor or a file has it: values left as
    their redacted `***` keep the queue's own) and/or its max concurrency (`...`: unchanged),
    each checked as at creation before anything is written (`check_reachable`: the backend of
    the config it will have must answer, as `queue create --check`). The app's queue editor
    and `queue update` both save through here."""
    from runners.launch.redaction import restore_redacted

    queue = store.queues.get(name)
    config = None
    if document is not None:
        config = check_queue_config(queue.resource, restore_redacted(document, queue.config))
    if check_reachable:
        get_runner(queue.resource).check_reachable(queue.config if config is None else config)
    return store.queues.update(name, config=config, max_concurrency=max_concurrency)

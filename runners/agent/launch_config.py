"""`launchbay agent -c launch-config.yaml`: W&B's agent config file, read for what it means here.

W&B's keys are its `AgentConfig` (wandb/sdk/launch/agent/config.py). Each is honoured, refused
or ignored with a warning, and the README's "Coming from W&B Launch" says which:
- honoured: `queues` (as -q), `max_jobs` (as --max-jobs; -1 no limit);
- refused, because ignoring them would do something else than the file asks: `secure_mode:
  true` (W&B refuses launches that override the entry point or image; launchbay's queues
  decide what a launch may override), `registry` and `builder` (launchbay reads them from each
  queue's config, where a code job's image is built and pushed);
- ignored, with a warning: `entity` (no W&B entity here), `max_schedulers` (no sweeps),
  `environment` (each target's `target:` block says where its cloud is), `verbosity`,
  `stopped_run_timeout` (each queue's `stop_grace_seconds` says it for local processes);
- anything else: refused, as W&B's own `extra = "forbid"` refuses it.
"""

from dataclasses import dataclass, field
from typing import Any

from runners.launch.documents import expect_mapping, load_document
from store import BadInput

FIELD = "-c/--config"
IGNORED = {
    "entity": "launchbay has no W&B entity",
    "max_schedulers": "launchbay runs no sweep schedulers",
    "environment": "each queue's target: block says where its cloud is",
    "verbosity": "the agent prints its events; --quiet prints only errors",
    "stopped_run_timeout": "a local-process queue's stop_grace_seconds says how long a stop waits",
}
REFUSED = {
    "registry": "launchbay reads the registry from each queue's config (registry: HOST/REPO)",
    "builder": "launchbay reads the builder from each queue's config (builder: …)",
}
HONOURED = ("queues", "max_jobs", "secure_mode")


@dataclass(frozen=True)
class AgentFileSettings:
    """What the file sets (None: not set), and a warning for each key it ignores."""

    queues: list[str] | None = None
    max_jobs: int | None = None
    warnings: list[str] = field(default_factory=list)


def load_agent_config(source: str, max_jobs_limit: int) -> AgentFileSettings:
    """Read and check W&B's agent config file at `source` (`max_jobs` up to `max_jobs_limit`,
    as --max-jobs). Raises BadInput naming the key."""
    document = expect_mapping(load_document(source, FIELD), FIELD)
    warnings = []
    for key, value in document.items():
        where = f"{FIELD} {key}"
        if key in REFUSED and value is not None:
            raise BadInput(where, f"is W&B's agent's; {REFUSED[key]}")
        if key in IGNORED:
            warnings.append(f"{key} in {source} is ignored: {IGNORED[key]}")
        elif key not in HONOURED and key not in REFUSED:
            known = ", ".join((*HONOURED, *REFUSED, *IGNORED))
            raise BadInput(where, f"unknown key; expected one of {known}")
    if document.get("secure_mode"):
        raise BadInput(
            f"{FIELD} secure_mode",
            "launchbay has no secure mode; a queue's config decides what a launch may override",
        )
    return AgentFileSettings(
        queues=_queues(document.get("queues")),
        max_jobs=_max_jobs(document.get("max_jobs"), max_jobs_limit),
        warnings=warnings,
    )


def _queues(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(q, str) and q for q in value):
        raise BadInput(f"{FIELD} queues", f"{value!r}; expected a list of queue names")
    return value


def _max_jobs(value: Any, limit: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= limit:
        raise BadInput(f"{FIELD} max_jobs", f"{value!r}; expected -1 (no limit) up to {limit}")
    return value

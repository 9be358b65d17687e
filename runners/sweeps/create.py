"""`sweep create`: a sweep config checked against the job and the queue, then recorded."""

from __future__ import annotations

import secrets
from typing import Any

from runners.launch.documents import load_document
from runners.launch.request import LaunchRequest, prepare_launch
from runners.launch.templating import check_macros, reads_agent_env, strings_by_path
from runners.sweeps.config import check_against_schema, parse_sweep_config
from store import BadInput, Store
from store.runs import new_run_id
from store.sweeps import Sweep

MAX_PARALLEL = 10_000


def create_sweep(
    store: Store,
    *,
    job: str,
    queue: str,
    config: str | dict[str, Any],
    parallel: int = 1,
    name: str | None = None,
    priority: str = "medium",
) -> Sweep:
    """Check everything before anything is written; raises BadInput naming the field."""
    document = load_document(config, "-c/--config") if isinstance(config, str) else config
    checked = parse_sweep_config(document)
    if not 1 <= parallel <= MAX_PARALLEL:
        raise BadInput("--parallel", f"{parallel}; expected 1 to {MAX_PARALLEL}")
    prepared = prepare_launch(store, LaunchRequest(job=job, queue=queue, priority=priority))
    check_against_schema(checked, prepared.job.input_schema)
    for param in checked.params:
        values = param.grid_values() or []
        for where, text in strings_by_path(values, param.field).items():
            check_macros(text, where)
            if reads_agent_env(text):
                raise BadInput(where, "${env:…} would copy the agent's environment into a run")
    if checked.uses_optuna:
        from runners.sweeps.optuna_search import require_optuna

        require_optuna("method" if checked.method == "bayes" else "optuna")
    seed = checked.seed if checked.seed is not None else secrets.randbelow(2**31)
    if name is not None and not name.strip():
        raise BadInput("--name", "is empty; expected a name")
    return store.sweeps.create(
        new_run_id(),
        name or document.get("name") or f"{prepared.job.name}-{checked.method}",
        job_version_id=prepared.job.id,
        job_ref=prepared.job.ref,
        queue_id=prepared.queue.id,
        config=document,
        launch=prepared.launch,
        priority=prepared.priority,
        parallel=parallel,
        seed=seed,
    )

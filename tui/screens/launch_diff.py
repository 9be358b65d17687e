"""A relaunch's preview: the new spec's diff against the previous run's, secrets hidden."""

from __future__ import annotations

import json

from ..widgets.spec_view import SpecView

# Parts of a spec that always differ between two runs: left out of a relaunch's diff.
_VOLATILE_ENV = (
    "LAUNCHBAY_RUN_ID",
    "LAUNCHBAY_ITEM_ID",
    "LAUNCHBAY_CONFIG_FILE",
    "LAUNCHBAY_METRICS_FILE",
    "WANDB_RUN_ID",  # W&B's names for the run and its queue item (runners/launch/wandb_env.py)
    "WANDB_LAUNCH_TRACE_ID",
)


def _normalised(spec: dict) -> dict:
    # The run's id also shows inside values (a macro's ${run_id}, WANDB_RUN_ID, a path under
    # the run's folder): the preview's placeholder id and the previous run's are the same
    # "run id" to the eye, so neither reads as a change.
    run_id = spec.get("run_id")
    text = json.dumps(spec)
    if run_id:
        text = text.replace(run_id, RUN_ID_MARK)
    spec = json.loads(text)
    spec.pop("run_id", None)
    spec.pop("item_id", None)
    spec.pop("priority", None)
    for key in _VOLATILE_ENV:
        (spec.get("env") or {}).pop(key, None)
    return spec


RUN_ID_MARK = "<run id>"


def show_relaunch_diff(view: SpecView, previous: dict, current: dict) -> None:
    """Show in `view` how `current` differs from the `previous` run's spec (redacted here)."""
    from runners.launch.rendering import redact

    view.show_diff(
        _normalised(redact(previous)),
        _normalised(current),
        before_label="previous run",
        after_label="this launch",
        same="(the same spec as the previous run)",
    )

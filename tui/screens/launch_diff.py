"""A relaunch's preview: the new spec's diff against the previous run's, secrets hidden."""

from __future__ import annotations

import difflib
import json

from textual.content import Content

# Parts of a spec that always differ between two runs: left out of a relaunch's diff.
_VOLATILE_ENV = ("LAUNCHBAY_RUN_ID", "LAUNCHBAY_ITEM_ID", "LAUNCHBAY_CONFIG_FILE")


def _normalised(spec: dict) -> dict:
    spec = json.loads(json.dumps(spec))
    spec.pop("run_id", None)
    spec.pop("item_id", None)
    spec.pop("priority", None)
    for key in _VOLATILE_ENV:
        (spec.get("env") or {}).pop(key, None)
    return spec


def diff_text(previous: dict, current: dict) -> Content:
    from runners.launch.rendering import redact

    before = json.dumps(_normalised(redact(previous)), indent=2, sort_keys=True).splitlines()
    after = json.dumps(_normalised(current), indent=2, sort_keys=True).splitlines()
    lines = []
    for line in difflib.unified_diff(
        before, after, "previous run", "this launch", lineterm="", n=2
    ):
        if line.startswith("+") and not line.startswith("+++"):
            lines.append(Content.styled(line, "green"))
        elif line.startswith("-") and not line.startswith("---"):
            lines.append(Content.styled(line, "red"))
        else:
            lines.append(Content(line))
    return Content("\n").join(lines) if lines else Content("(the same spec as the previous run)")

"""A spec, or the diff of two specs, shown as rich `Text`, never markup: a spec holds what users
typed and what the store keeps ("[/x]", "[bold]"), which must show as it is.

`SpecView` is the widget (the launch form's preview; a run's spec; two runs compared);
`spec_text` and `diff_text` are the pure functions it shows, usable in any renderable.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from rich.text import Text
from textual.widgets import Static

ADDED, REMOVED = "green", "red"


def spec_text(spec: Any) -> Text:
    """The spec as indented JSON."""
    return Text(json.dumps(spec, indent=2))


def diff_text(
    before: Any,
    after: Any,
    *,
    before_label: str = "before",
    after_label: str = "after",
    context: int = 2,
    same: str = "(the same spec)",
) -> Text:
    """A unified diff of the two specs' JSON (keys sorted, so only real changes show): added
    lines green, removed ones red; `same` when nothing differs."""
    old = json.dumps(before, indent=2, sort_keys=True).splitlines()
    new = json.dumps(after, indent=2, sort_keys=True).splitlines()
    lines = difflib.unified_diff(old, new, before_label, after_label, lineterm="", n=context)
    text = Text()
    for line in lines:
        if line.startswith("+") and not line.startswith("+++"):
            style = ADDED
        elif line.startswith("-") and not line.startswith("---"):
            style = REMOVED
        else:
            style = ""
        if text:
            text.append("\n")
        text.append(line, style=style)
    return text or Text(same)


class SpecView(Static):
    """Shows one spec, or how one differs from another."""

    def show_spec(self, spec: Any) -> None:
        self.update(spec_text(spec))

    def show_diff(self, before: Any, after: Any, **labels: str) -> None:
        """`labels`: diff_text's before_label, after_label and same."""
        self.update(diff_text(before, after, **labels))

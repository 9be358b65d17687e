"""Pull and push progress as one line of the run's log, redrawn in place.

The engine reports every layer every few hundred KB. The log gets one line per pull or push,
`[launchbay] pulling python:3.11-slim: 2/5 layers, 31.4/120.3 MB`, redrawn with `\\r` as a
terminal progress bar is (the log file is append-only; the log view, `runs logs` and `launch
--follow` show a redrawn line's latest state, and redraw it in place while it is written).
It is redrawn only when a layer is done or another fiftieth of the bytes has moved, so a line
holds a few dozen states at most, and it ends with a summary:
`[launchbay] pulled python:3.11-slim: 5 layers (2 already there), 120.3 MB in 14.2 s`.
The engine's lines that name no layer (`Digest: …`, `Status: …`) follow it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

STEPS = 50  # a redraw per fiftieth of the bytes known
_HEADERS = ("Pulling from ", "The push refers to ")  # what the line's own words already say
_DONE = {"Pull complete", "Pushed", "Already exists", "Layer already exists"}
_THERE_BEFORE = {"Already exists", "Layer already exists"}
_TRANSFERS = {"Downloading", "Pushing"}
_MOUNTED = "Mounted from "  # a push: the registry took the layer from another repository


@dataclass
class _Layer:
    current: int = 0
    total: int = 0
    done: bool = False
    there_before: bool = False


class ProgressLine:
    """One pull's or push's progress: `update(chunk)` for each of the engine's JSON messages
    says when the line should be redrawn and with what; `summary()` is its last state."""

    def __init__(self, doing: str, done: str, image: str | None):
        self._doing, self._done = doing, done
        self._image = image or "a FROM image"  # a build's, named by the engine's first line
        self._named = image is not None
        self._layers: dict[str, _Layer] = {}
        self._drawn: tuple[int, int, int] | None = None  # (layers, done, step) last drawn
        self._started = time.monotonic()
        self.text = f"[launchbay] {doing} {self._image}"  # the state last drawn
        self.engine_lines: list[str] = []  # the engine's own lines, to follow the summary

    def update(self, chunk: dict) -> str | None:
        """The line's new state, or None when it needn't be redrawn."""
        status, layer_id = chunk.get("status"), chunk.get("id")
        if not status:
            return None
        if status.startswith(_HEADERS):
            if not self._named and status.startswith("Pulling from ") and layer_id:
                self._image = f"{status.removeprefix('Pulling from ')}:{layer_id}"
                self._named = True
            return None
        if not layer_id:
            self.engine_lines.append(status)
            return None
        layer = self._layers.setdefault(layer_id, _Layer())
        detail = chunk.get("progressDetail") or {}
        if status in _TRANSFERS and detail.get("total"):
            layer.total, layer.current = detail["total"], min(detail["total"], detail["current"])
        elif status == "Download complete":
            layer.current = layer.total
        elif status in _DONE or status.startswith(_MOUNTED):
            layer.done = True
            layer.there_before = status in _THERE_BEFORE or status.startswith(_MOUNTED)
            layer.current = layer.total
        return self._redraw()

    def _redraw(self) -> str | None:
        current, total = self._bytes()
        step = current * STEPS // total if total else 0
        state = (len(self._layers), self._count_done(), step)
        if state == self._drawn:
            return None
        self._drawn = state
        self.text = f"[launchbay] {self._doing} {self._image}: {state[1]}/{state[0]} layers"
        if total:
            self.text += f", {current / 1e6:.1f}/{total / 1e6:.1f} MB"
        return self.text

    def summary(self) -> str:
        _, total = self._bytes()
        count = len(self._layers)
        text = f"[launchbay] {self._done} {self._image}"
        if count:  # none: the engine had them all, and said nothing of them
            text += f": {count} layer{'s' * (count != 1)}"
        there_before = sum(layer.there_before for layer in self._layers.values())
        if there_before:
            text += f" ({there_before} already there)"
        if total:
            text += f", {total / 1e6:.1f} MB"
        return f"{text} in {time.monotonic() - self._started:.1f} s"

    def _bytes(self) -> tuple[int, int]:
        layers = self._layers.values()
        return sum(layer.current for layer in layers), sum(layer.total for layer in layers)

    def _count_done(self) -> int:
        return sum(layer.done for layer in self._layers.values())

"""Pull and push progress, for the run's log, which is append-only: each layer's progress is a
line at every tenth of the way (`3f2a1b9c0d4e: Pushing 40% of 12.6 MB`), plus its other states
(`Pulling fs layer`, `Download complete`, `Pushed`) once each. The log grows by at most a dozen
lines per layer and phase, whatever the engine's chatter (it reports every few hundred KB), and
the last line of a layer is its latest state."""

from __future__ import annotations

STEPS = 10  # a line per tenth of a layer's bytes


class ProgressLines:
    """The lines to log for the engine's JSON progress messages, one message at a time."""

    def __init__(self) -> None:
        self._step: dict[tuple[str, str], int] = {}  # (layer, status) → the last tenth logged

    def lines(self, chunk: dict) -> list[str]:
        status = chunk.get("status")
        if not status:
            return []
        layer = chunk.get("id")
        detail = chunk.get("progressDetail") or {}
        total, current = detail.get("total"), detail.get("current")
        if layer and total and current is not None:
            percent = min(100, current * 100 // total)
            step = percent * STEPS // 100
            if self._step.get((layer, status), -1) >= step:
                return []
            self._step[(layer, status)] = step
            return [f"{layer}: {status} {step * 100 // STEPS}% of {total / 1e6:.1f} MB"]
        return [f"{layer}: {status}" if layer else status]

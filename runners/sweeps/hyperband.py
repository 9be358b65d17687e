"""W&B's hyperband early termination (`early_terminate: {type: hyperband, …}`).

At each band (a step: min_iter, min_iter·eta, … or max_iter/eta, max_iter/eta², …), the
values every trial of the sweep had at that step are sorted, best first; the one at position
⌊len/eta⌋ is the threshold. A running trial past a band whose value there is worse than that
band's threshold is stopped, as W&B's controller does. Unlike W&B, a band is a step the job
reports (`step` in its metric lines), not the count of its history rows.
"""

from __future__ import annotations

import bisect
import math

from runners.sweeps.config import Hyperband


class HyperbandStopping:
    def __init__(self, hyperband: Hyperband, goal: str):
        self.bands = hyperband.bands
        self.keep = 1.0 / hyperband.eta
        self.sign = -1.0 if goal == "maximize" else 1.0  # compared as a loss: lower is better
        self.at_band: dict[int, dict[int, float]] = {}  # trial number → {band: value}

    def record(self, number: int, points: list[tuple[int, float]]) -> None:
        """A trial's (step, value) points, in step order: its value at a band is the first it
        reported at or after that step."""
        seen = self.at_band.setdefault(number, {})
        for step, value in points:
            if not math.isfinite(value):
                continue
            for band in self.bands[: bisect.bisect_right(self.bands, step)]:
                seen.setdefault(band, self.sign * value)

    def should_stop(self, number: int) -> int | None:
        """The band the trial is stopped at, or None to let it go on."""
        seen = self.at_band.get(number) or {}
        if not seen:
            return None
        band = max(seen)
        values = sorted(v[band] for v in self.at_band.values() if band in v)
        threshold = values[int(self.keep * len(values))]
        return band if seen[band] > threshold else None

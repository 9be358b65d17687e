"""The APIs' RFC 3339 timestamps (Docker's `FinishedAt`, Kubernetes' `finishedAt`) as unix time."""

from datetime import datetime


def unix_time(stamp: str | None) -> float | None:
    """`2026-11-26T08:00:00.123456789Z` as unix time; None for Docker's zero time (never
    finished) or a stamp that is not RFC 3339 (fromisoformat drops digits beyond
    microseconds)."""
    try:
        moment = datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None
    return moment.timestamp() if moment is not None and moment.year > 1 else None

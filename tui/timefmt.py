"""Durations, relative times and sizes, as the CLI and the app show them."""

from . import clock


def ago(ts: float | None) -> str:
    """'12s ago', '3m05s ago', '2h10m ago', '4d03h ago'."""
    if ts is None:
        return "-"
    return human_duration(clock.now() - ts) + " ago"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h{(seconds % 3600) // 60:02.0f}m"
    return f"{seconds // 86400:.0f}d{(seconds % 86400) // 3600:02.0f}h"


def run_duration(started_at: float | None, ended_at: float | None) -> str:
    if started_at is None:
        return "-"
    return human_duration((ended_at or clock.now()) - started_at)


def human_size(size: int) -> str:
    """'812 B', '4.0 KiB', '61.2 MiB', '1.5 GiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")

"""Printing for the command line: aligned tables, JSON, durations, and one-line errors."""

import json
import sys
import time
from collections.abc import Sequence

import click


def print_json(value) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str = "(none)"
) -> None:
    if not rows:
        click.echo(empty)
        return
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return str(value)


def ago(ts: float | None) -> str:
    """'12s ago', '3m ago', '2h ago', '4d ago'."""
    if ts is None:
        return "-"
    return human_duration(time.time() - ts) + " ago"


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


def error_line(message: str) -> None:
    click.echo(f"launchbay: error: {message}", err=True)


def note(message: str) -> None:
    """Progress and hints go to stderr, so stdout stays parseable."""
    click.echo(message, err=True)


def write(text: str) -> None:
    sys.stdout.write(text)

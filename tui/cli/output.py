"""Printing for the command line: aligned tables, JSON, durations, and one-line errors."""

import json
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


def error_line(message: str) -> None:
    click.echo(f"launchbay: error: {message}", err=True)


def note(message: str) -> None:
    """Progress and hints go to stderr, so stdout stays parseable."""
    click.echo(message, err=True)

"""`launchbay runs …`: list, describe, logs, cancel (metrics and compare: run_metrics.py;
files and cp: run_files.py; tag and note: run_notes.py)."""

import sys
import time

import click

from ..timefmt import ago, human_duration
from .common import SQLITE_MAX_INTEGER, db_option, json_option, with_store
from .completion import complete_queues, complete_runs
from .output import print_json, print_table
from .run_files import cp_command, files_command
from .run_metrics import compare_command, metrics_command
from .run_notes import note_command, tag_command


@click.group("runs")
@db_option
def runs_group():
    """Runs: one launch of a job on a queue's resource."""


# Listed here, not imported: --help must not cost importing the store.
_STATES = [
    "starting",
    "running",
    "stopping",
    "finished",
    "failed",
    "stopped",
    "preempted",
    "crashed",
]


@runs_group.command("list")
@click.option(
    "--queue",
    "-q",
    metavar="QUEUE",
    help="Only runs of this queue.",
    shell_complete=complete_queues,
)
@click.option(
    "--state",
    "-s",
    "states",
    multiple=True,
    type=click.Choice(_STATES),
    help="Only runs in this state (repeatable).",
)
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(0, SQLITE_MAX_INTEGER),
    default=50,
    show_default=True,
    help="Newest N runs; 0 for all.",
)
@json_option
@db_option
@with_store
def list_runs(store, queue, states, limit, as_json):
    """List runs, newest first."""
    queue_id = store.queues.get(queue).id if queue else None
    runs = store.runs.list(queue_id=queue_id, states=list(states) or None, limit=limit or None)
    if as_json:
        # Each run's metric summaries (last/min/max): one indexed read per run, no points.
        summaries = store.metrics.summaries([run.id for run in runs])
        print_json(
            [
                {
                    **run.to_json(),
                    "metrics": {k: s.to_json() for k, s in summaries.get(run.id, {}).items()},
                }
                for run in runs
            ]
        )
        return
    now = time.time()
    print_table(
        [
            "run",
            "job",
            "queue",
            "resource",
            "state",
            "started",
            "duration",
            "exit",
            "item",
            "reason",
        ],
        [
            (
                r.id,
                r.job,
                r.queue,
                r.resource,
                r.state.value,
                ago(r.started_at),
                human_duration((r.ended_at or now) - r.started_at) if r.started_at else "-",
                r.exit_code,
                r.item_id,
                r.end_reason,
            )
            for r in runs
        ],
        empty="no runs yet",
    )


@runs_group.command("describe")
@click.argument("run_id", shell_complete=complete_runs)
@json_option
@db_option
@with_store
def describe_run(store, run_id, as_json):
    """Describe a run: state, error, handle, events and the rendered spec (secrets hidden)."""
    from runners.launch.rendering import redact
    from runners.launch.retry import attempt_text

    run = store.runs.find(run_id)
    events = store.runs.events(run.id)
    if as_json:
        print_json(
            {
                **run.to_json(),
                "attempt": run.spec.get("attempt"),
                "spec": redact(run.spec),
                "handle": redact(run.handle),
                "events": [e.to_json() for e in events],
                "log": str(store.run_log_path(run.id)),
                "metrics_malformed": store.metrics.malformed(run.id),
                "metrics_dropped": store.metrics.dropped(run.id),
            }
        )
        return
    import json

    click.echo(f"run:        {run.id}")
    click.echo(f"job:        {run.job}")
    click.echo(f"queue:      {run.queue} ({run.resource})")
    click.echo(f"item:       {run.item_id}")
    if attempt := attempt_text(run.spec):
        click.echo(f"attempt:    {attempt}")
    click.echo(f"state:      {run.state.value}" + (f" — {run.message}" if run.message else ""))
    click.echo(f"exit code:  {run.exit_code if run.exit_code is not None else '-'}")
    if run.tags:
        click.echo(f"tags:       {' '.join(run.tags)}")
    if run.note:
        click.echo("note:       " + run.note.replace("\n", "\n            "))
    if run.error_stage or run.error_message:
        click.echo(f"error:      [{run.error_stage}] {run.error_message}")
    click.echo(f"created:    {ago(run.created_at)}")
    if run.started_at:
        end = run.ended_at or time.time()
        click.echo(f"duration:   {human_duration(end - run.started_at)}")
    click.echo(f"handle:     {json.dumps(redact(run.handle)) if run.handle else '-'}")
    click.echo(f"log:        {store.run_log_path(run.id)}")
    metrics = store.metrics.keys(run.id)
    click.echo(f"metrics:    {len(metrics)} (launchbay runs metrics {run.id})")
    _metric_warnings(store, run.id)
    click.echo("events:")
    for event in events:
        arrow = f"{event.from_state or '·'} → {event.to_state}"
        click.echo(f"  {ago(event.at):>10}  {arrow:<22} {event.message or ''}".rstrip())
    click.echo("spec:")
    click.echo("  " + json.dumps(redact(run.spec), indent=2).replace("\n", "\n  "))


def _metric_warnings(store, run_id: str) -> None:
    skipped = store.metrics.malformed(run_id)
    dropped = store.metrics.dropped(run_id)
    if skipped or dropped:
        click.echo(f"warnings:   {skipped} malformed metric record(s), {dropped} point(s) dropped")


@runs_group.command("logs")
@click.argument("run_id", shell_complete=complete_runs)
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the run ends.")
@db_option
@with_store
def run_logs(store, run_id, follow):
    """Print a run's log (stdout and stderr)."""
    from runners.runlog.logfile import follow_lines

    from .log_printer import LogPrinter

    run = store.runs.find(run_id)
    path = store.run_log_path(run.id)

    def ended() -> bool:
        return store.runs.get(run_id).state.is_terminal()

    printer = LogPrinter(sys.stdout, flush=follow)
    following = follow and not run.state.is_terminal()
    try:
        for line in follow_lines(path, ended, follow=following, redrawn=printer.redrawn):
            printer.line(line)
    except BrokenPipeError:  # `launchbay runs logs X | head`
        return
    finally:
        printer.end()  # ctrl+c while a line is drawn: the prompt starts a line of its own
    _say_if_log_is_gone(store, run_id, path)


def _say_if_log_is_gone(store, run_id: str, path) -> None:
    """A run past `starting` has a log (its agent or runner made it): none means it was deleted
    (or a cloud run wrote nothing yet), which printing nothing with exit 0 would hide."""
    from store import RunState

    if path.exists() or store.runs.get(run_id).state is RunState.STARTING:
        return
    raise click.ClickException(
        f"run {run_id}: its log {path} is gone (deleted, or the run has written none yet)"
    )


@runs_group.command("cancel")
@click.argument("ident", metavar="ID", shell_complete=complete_runs)
@db_option
@with_store
def cancel(store, ident):
    """Cancel ID: a run id stops a live run; a queue item id cancels a waiting item."""
    from runners.agent.cancelling import cancel_by_id
    from store import NotFound

    if ident.isdigit() and int(ident) > SQLITE_MAX_INTEGER:  # no item has such an id
        raise NotFound("ID", f"no queue item or run with id {ident!r}")
    message = cancel_by_id(store, ident)
    click.echo(message)


for _command in (
    metrics_command,
    compare_command,
    files_command,
    cp_command,
    tag_command,
    note_command,
):
    runs_group.add_command(_command)

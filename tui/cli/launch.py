"""`launchbay launch`: enqueue one run of a job on a queue, or preview its spec."""

import click

from .common import db_option, json_option, with_store
from .follow import after_enqueue, check_follow_flags, follow_options
from .output import note, print_json


@click.command("launch")
@click.option(
    "--job", "-j", required=True, metavar="JOB", help="NAME (latest), NAME:vN or NAME:ALIAS."
)
@click.option("--queue", "-q", required=True, metavar="QUEUE", help="Queue to enqueue on.")
@click.option(
    "--config",
    "-c",
    "spec",
    metavar="SPEC",
    help="Launch spec: a .json/.yaml file or a JSON string with overrides.run_config,"
    " overrides.args, overrides.entry_point, overrides.dockerfile (container queues),"
    " resource_args and retry.",
)
@click.option(
    "--set-var",
    "-v",
    "set_vars",
    multiple=True,
    metavar="NAME=VALUE",
    help="Value of a queue template variable (repeatable).",
)
@click.option(
    "--arg",
    "-a",
    "args",
    multiple=True,
    metavar="ARG",
    help="Argument(s) for the entrypoint, shlex-split (repeatable; replaces overrides.args).",
)
@click.option("--entrypoint", "-E", metavar="ENTRYPOINT", help="Command replacing the job's.")
@click.option(
    "--priority",
    "-P",
    default="medium",
    show_default=True,
    type=click.Choice(["critical", "high", "medium", "low"], case_sensitive=False),
    help="Dispatch priority; FIFO within a priority.",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the spec the runner would get and enqueue nothing."
)
# Issue 16: follow the launch to its end (tui/cli/follow.py).
@follow_options
@json_option
@db_option
@with_store
def launch_command(
    store,
    job,
    queue,
    spec,
    set_vars,
    args,
    entrypoint,
    priority,
    dry_run,
    as_json,
    follow,
    with_agent,
):
    """Enqueue a run of JOB on QUEUE; prints the queue item's id. With --follow, waits for its
    run and prints its states and log until it ends (exit 0 finished, 1 not, 130 ctrl+c)."""
    from runners.launch.rendering import redact
    from runners.launch.request import LaunchRequest, enqueue, prepare_launch, preview

    request = LaunchRequest(
        job=job,
        queue=queue,
        spec=spec,
        set_vars=list(set_vars),
        args=list(args) if args else None,
        entry_point=entrypoint,
        priority=priority,
    )
    check_follow_flags(follow, with_agent)
    prepared = prepare_launch(store, request)
    if dry_run:
        print_json(redact(preview(store, prepared)))
        note(
            "dry run: nothing was enqueued; the real run id is chosen when an agent claims the item"
        )
        return
    item_id = enqueue(store, prepared)
    if as_json:
        print_json(redact(store.items.get(item_id).to_json()))
    else:
        click.echo(item_id)
        note(
            f"enqueued {prepared.job.ref} on {prepared.queue.name} as item {item_id}"
            f" ({prepared.priority.label} priority)"
        )
    after_enqueue(store, prepared.queue, item_id, follow, with_agent)

"""`launchbay launch`: enqueue one run of a job on a queue, or preview its spec."""

import click

from .common import db_option, json_option, with_store
from .completion import complete_jobs, complete_queues
from .output import note, print_json


@click.command("launch")
@click.option(
    "--job",
    "-j",
    required=True,
    metavar="JOB",
    shell_complete=complete_jobs,
    help="NAME (latest), NAME:vN or NAME:ALIAS (-j is --job here, as W&B's launch -j).",
)
@click.option(
    "--queue",
    "-q",
    required=True,
    metavar="QUEUE",
    help="Queue to enqueue on.",
    shell_complete=complete_queues,
)
@click.option(
    "--config",
    "-c",
    "spec",
    metavar="SPEC",
    help="Launch spec: a .json/.yaml file or a JSON string with overrides.run_config,"
    " overrides.args, overrides.entry_point, overrides.dockerfile (container queues) and"
    " resource_args.",
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
@json_option
@db_option
@with_store
def launch_command(store, job, queue, spec, set_vars, args, entrypoint, priority, dry_run, as_json):
    """Enqueue a run of JOB on QUEUE; prints the queue item's id."""
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

"""`launchbay launch`: enqueue one run of a job on a queue, or preview its spec."""

import contextlib

import click

from .common import db_option, json_option, with_store
from .completion import complete_jobs, complete_queues
from .follow import after_enqueue, check_follow_flags, follow_options
from .output import note, print_json

# `--set KEY=VALUE`: run-config values typed by the job's input schema (issue 16).
set_values_option = click.option(
    "--set",
    "set_values",
    multiple=True,
    metavar="KEY=VALUE",
    help="A run-config value, typed by the job's input schema (YAML where it says no type);"
    " KEY may be dotted (optim.lr). Repeatable; wins over the spec's overrides.run_config.",
)


class _DryRunOnly(Exception):
    """Leaves the transaction of a dry run, undoing it."""


@click.command("launch")
@click.option(
    "--job",
    "-j",
    metavar="JOB",
    shell_complete=complete_jobs,
    help="NAME (latest), NAME:vN or NAME:ALIAS (-j is --job here, as in W&B's launch).",
)
@click.option(
    "--uri",
    "-u",
    metavar="PATH_OR_GIT_URL",
    help="Instead of -j: run this directory's code (a code job) or this git URL (a git job);"
    " the job is made on first use and reused for the same path or URL.",
)
@click.option(
    "--docker-image",
    "-d",
    metavar="IMAGE",
    help="Instead of -j: run this image (an image job, made on first use, reused after).",
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
    " overrides.args, overrides.entry_point, overrides.dockerfile (container queues),"
    " overrides.artifacts, overrides.files, resource_args, template_variables, name, project,"
    " entity (W&B's launch config keys), and retry.",
)
@click.option(
    "--set-var",
    "-v",
    "set_vars",
    multiple=True,
    metavar="NAME=VALUE",
    help="Value of a queue template variable (repeatable).",
)
@set_values_option
@click.option(
    "--arg",
    "-a",
    "args",
    multiple=True,
    metavar="ARG",
    help="Argument(s) for the entrypoint, shlex-split (repeatable; replaces overrides.args).",
)
@click.option(
    "--entry-point",
    "--entrypoint",
    "-E",
    "entrypoint",
    metavar="ENTRYPOINT",
    help="Command replacing the job's.",
)
@click.option(
    "--resource-args",
    "-R",
    metavar="ARGS",
    help="Resource args (a .json/.yaml file or a JSON string; {RESOURCE: {...}} as W&B writes"
    " them, or the keys directly), replacing the spec's resource_args.",
)
@click.option(
    "--dockerfile",
    "-D",
    metavar="PATH",
    help="Dockerfile in the job's code to build with (container queues; code and git jobs).",
)
@click.option(
    "--name", "run_name", metavar="NAME", help="The run's name (WANDB_NAME, ${run_name})."
)
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
    uri,
    docker_image,
    queue,
    spec,
    set_vars,
    set_values,
    args,
    entrypoint,
    resource_args,
    dockerfile,
    run_name,
    priority,
    dry_run,
    as_json,
    follow,
    with_agent,
):
    """Enqueue a run of a job (-j, or -u/-d for one made from a source) on QUEUE; prints the
    queue item's id. With --follow, waits for its run and prints its states and log until it
    ends (exit 0 finished, 1 not, 130 ctrl+c)."""
    from runners.catalog.jobs import job_for_source
    from runners.launch.rendering import redact
    from runners.launch.request import LaunchRequest, enqueue, prepare_launch, preview
    from store import BadInput

    check_follow_flags(follow, with_agent)
    if sum(given is not None for given in (job, uri, docker_image)) != 1:
        raise BadInput("-j/--job", "expected exactly one of -j/--job, -u/--uri, -d/--docker-image")
    made = shown = None
    # A job made from -u/-d and the launch are one transaction: refused or a dry run, the
    # store is left as it was.
    with contextlib.suppress(_DryRunOnly), contextlib.ExitStack() as atomic:
        if job is None:
            atomic.enter_context(store.transaction())
            made = job_for_source(store, uri=uri, image=docker_image)
            job = made.version.ref
        request = LaunchRequest(
            job=job,
            queue=queue,
            spec=spec,
            set_vars=list(set_vars),
            set_values=list(set_values),
            args=list(args) if args else None,
            entry_point=entrypoint,
            priority=priority,
            run_name=run_name,
            resource_args=resource_args,
            dockerfile=dockerfile,
        )
        prepared = prepare_launch(store, request)
        if dry_run:
            shown = redact(preview(store, prepared))
            raise _DryRunOnly  # rolls back the job made for it
        item_id = enqueue(store, prepared)
    store.notify()
    if made is not None:
        verb = (
            "would create" if dry_run and made.created else "created" if made.created else "reusing"
        )
        note(f"{verb} job {made.version.ref} for {uri or docker_image}")
    if dry_run:
        print_json(shown)
        note(
            "dry run: nothing was enqueued; the real run id is chosen when an agent claims the item"
        )
        return
    if as_json:
        print_json(redact(store.items.get(item_id).to_json()))
    else:
        click.echo(item_id)
        note(
            f"enqueued {prepared.job.ref} on {prepared.queue.name} as item {item_id}"
            f" ({prepared.priority.label} priority)"
        )
    after_enqueue(store, prepared.queue, item_id, follow, with_agent)

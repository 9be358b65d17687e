"""`launchbay resources` and `launchbay quickstart`."""

import sys

import click

from .common import db_option, json_option, open_store
from .output import note, print_json, print_table


@click.command("resources")
@click.argument("type_name", metavar="[TYPE]", required=False)
@json_option
def resources_command(type_name, as_json):
    """List the target resource types this launchbay knows and what each needs installed;
    with TYPE, that type's config keys and their help."""
    from runners.registry import RESOURCE_TYPES, resource_type

    if type_name is not None:
        _describe_resource(_resource_row(resource_type(type_name), with_keys=True), as_json)
        return
    # The table shows no keys: reading them would only slow it down.
    rows = [_resource_row(r, with_keys=as_json) for r in RESOURCE_TYPES]
    if as_json:
        print_json(rows)
        return
    print_table(
        ["resource", "aliases", "installed", "install", "description"],
        [
            (
                r["name"],
                ", ".join(r["aliases"]) or "-",
                "yes" if r["installed"] else "no",
                r["install"],
                r["description"],
            )
            for r in rows
        ],
    )


def _resource_row(r, with_keys: bool) -> dict:
    from runners.registry import CONFIG_BLOCKS

    row = {
        "name": r.name,
        "aliases": list(r.aliases),
        "extra": r.extra,
        "installed": not r.missing_modules(),
        "install": r.install_hint,
        "description": r.description,
    }
    if with_keys:
        row["config_keys"] = {
            block: [{"name": key.name, "help": key.help} for key in r.config_keys(block)]
            for block in CONFIG_BLOCKS
        }
    return row


def _describe_resource(row: dict, as_json: bool) -> None:
    if as_json:
        print_json(row)
        return
    click.echo(f"resource:     {row['name']}")
    click.echo(f"aliases:      {', '.join(row['aliases']) or '-'}")
    install = row["install"] if row["install"].startswith("(") else f"({row['install']})"
    click.echo(f"installed:    {'yes' if row['installed'] else 'no'} {install}")
    click.echo(f"description:  {row['description']}")
    for block, keys in row["config_keys"].items():
        click.echo(f"\nqueue config {block}:")
        print_table(
            ["key", "help"],
            [(key["name"], key["help"]) for key in keys],
            empty=f"(no keys declared: {_no_keys(block)})",
        )


def _no_keys(block: str) -> str:
    if block == "target":
        return "this type takes no target block"
    return "see the README for what this type takes"


@click.command("quickstart")
@click.option(
    "--epochs", type=int, default=3, show_default=True, help="The sample job's run config override."
)
@db_option
def quickstart_command(epochs):
    """Create the sample job and a local-process queue, launch the job, run it, show its log."""
    from runners.agent.loop import Agent
    from runners.catalog.sample import ensure_sample
    from runners.launch.request import LaunchRequest, enqueue, prepare_launch
    from runners.runlog.logfile import follow_lines

    from .log_printer import LogPrinter

    store = open_store()
    try:
        created, queue = ensure_sample(store)
        job = created.version
        note(f"store: {store.path}")
        note(
            f"job {job.ref} ({'created' if created.created else 'unchanged'}), queue"
            f" {queue.name} ({queue.resource})"
        )
        request = LaunchRequest(
            job=job.ref,
            queue=queue.name,
            spec={"overrides": {"run_config": {"epochs": epochs, "learning_rate": 0.2}}},
        )
        item_id = enqueue(store, prepare_launch(store, request))
        note(f"enqueued item {item_id}; running an agent until the queue is empty…")
        Agent(store.path, queues=[queue.name], until_empty=True, report=note).run()
        run = store.runs.find_for_item(item_id)
        if run is None:
            item = store.items.get(item_id)
            raise click.ClickException(f"item {item_id} did not run: {item.error_message}")
        printer = LogPrinter(sys.stdout, flush=False)  # a finished log: flushed at exit
        for line in follow_lines(store.run_log_path(run.id), lambda: True, follow=False):
            printer.line(line)
        note(
            f"run {run.id}: {run.state.value} (exit code {run.exit_code});"
            f" see `launchbay runs describe {run.id}`"
        )
        if run.state.value != "finished":
            raise SystemExit(1)
    finally:
        store.close()

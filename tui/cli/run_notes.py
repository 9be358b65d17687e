"""`launchbay runs tag …` and `runs note …`: what a user says about a run."""

import click

from .common import db_option, json_option, with_store
from .completion import complete_runs
from .output import print_json


@click.command("tag")
@click.argument("run_id", shell_complete=complete_runs)
@click.argument("tags", nargs=-1, required=True)
@click.option("--remove", "-r", is_flag=True, help="Remove these tags instead of adding them.")
@json_option
@db_option
@with_store
def tag_command(store, run_id, tags, remove, as_json):
    """Add TAGS to a run (or remove them with --remove); filter by one with `tag:NAME`."""
    tags = list(dict.fromkeys(tags))
    run_id = store.runs.find(run_id).id  # a unique prefix will do, as elsewhere
    run = store.runs.tag(run_id, remove=tags) if remove else store.runs.tag(run_id, add=tags)
    if as_json:
        print_json({"id": run.id, "tags": list(run.tags)})
        return
    click.echo(f"{run.id}: tags {' '.join(run.tags) if run.tags else '(none)'}")


@click.command("note")
@click.argument("run_id", shell_complete=complete_runs)
@click.argument("text")
@db_option
@with_store
def note_command(store, run_id, text):
    """Set a run's note to TEXT (an empty TEXT removes it)."""
    run = store.runs.set_note(store.runs.find(run_id).id, text)
    click.echo(f"{run.id}: note {'set' if run.note else 'removed'}")

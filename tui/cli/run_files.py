"""`launchbay runs files RUN` and `runs cp RUN PATH DEST`: what a run wrote."""

from contextlib import contextmanager
from pathlib import Path

import click

from ..timefmt import human_size
from .common import db_option, json_option, with_store
from .completion import complete_runs
from .output import note, print_json, print_table


def _files_root(store, run_id: str):
    from runners.runfiles import files_of

    run = store.runs.find(run_id)  # a unique prefix will do, as elsewhere
    return run, files_of(store, run)


@contextmanager
def _remote_failures():
    """A remote run's store that can't be read (no credentials, the bucket gone): one line,
    exit 1."""
    from runners.remotefiles import RemoteFilesError

    try:
        yield
    except RemoteFilesError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("files")
@click.argument("run_id", shell_complete=complete_runs)
@json_option
@db_option
@with_store
def files_command(store, run_id, as_json):
    """List what a run wrote: its folder (log, config, working copy) and its own mounts, or a
    SageMaker or Vertex run's output in S3 or GCS, with sizes."""
    from runners.runfiles import list_run_files

    run, files = _files_root(store, run_id)
    with _remote_failures():
        entries, truncated = list_run_files(files)
    if as_json:
        print_json(
            {
                "id": run.id,
                "root": None if files.root is None else str(files.root),
                "remote": None if files.remote is None else files.remote.uri,
                "mounts": {name: str(path) for name, path in files.mounts.items()},
                "note": files.note,
                "files": [entry.to_json() for entry in entries],
                "truncated": truncated,
            }
        )
        return
    if files.where is not None or files.mounts:
        click.echo(" ".join(str(p) for p in [files.where, *files.mounts.values()] if p))
        print_table(
            ["path", "size"],
            [(e.path + ("/" if e.kind == "dir" else ""), human_size(e.size)) for e in entries],
            empty="(no files yet)",
        )
    if truncated:
        note(f"(only the first {len(entries)} entries are listed)")
    if files.note:
        note(files.note)


@click.command("cp")
@click.argument("run_id", shell_complete=complete_runs)
@click.argument("path")
@click.argument("dest", type=click.Path(path_type=Path))
@db_option
@with_store
def cp_command(store, run_id, path, dest):
    """Copy PATH (a file or folder of the run's files, as `runs files` lists it) to DEST; a
    remote run's are downloaded."""
    from runners.runfiles import copy_out

    run, files = _files_root(store, run_id)
    with _remote_failures():
        written = copy_out(files, path, dest, run.id)
    click.echo(str(written))

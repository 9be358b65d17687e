"""`launchbay job …`: create (image, code, git), list, describe."""

import click

from ..timefmt import ago
from .common import db_option, json_option, with_store
from .completion import complete_jobs
from .output import print_json, print_table


@click.group("job")
@db_option
def job_group():
    """Jobs: versioned definitions of work (image, code or git)."""


@job_group.group("create")
@db_option
def create_group():
    """Create a job, or a new version of one when its content changed."""


def _common_create_options(func):
    func = click.option(
        "--entrypoint",
        "--entry-point",  # W&B's `wandb job create` spelling
        "-E",
        "entrypoint",
        metavar="CMD",
        help="Command to run, e.g. 'python train.py' (code/git default:"
        " python main.py; image default: the image's own).",
    )(func)
    func = click.option(
        "--schema", metavar="FILE", help="JSON or YAML input schema for the run config."
    )(func)
    func = click.option(
        "--alias",
        "-a",
        "aliases",
        multiple=True,
        metavar="ALIAS",
        help="Alias to point at this version (repeatable); 'latest' is automatic.",
    )(func)
    func = click.option("--description", "-d", metavar="TEXT", help="What the job does.")(func)
    return json_option(db_option(func))


def _build_options(func):
    """How a code or git job becomes an image on container queues."""
    func = click.option(
        "--dockerfile",
        metavar="PATH",
        help="Dockerfile inside the code to build the job's image from (default: one next to"
        " the entrypoint's script, else a generated one).",
    )(func)
    func = click.option(
        "--base-image",
        metavar="IMAGE",
        help="Base image of the generated Dockerfile (default: the queue's, else"
        " python:3.11-slim).",
    )(func)
    return func


def _create(store, kind, name, target, *, as_json, progress=False, **options):
    from runners.catalog.jobs import create_job

    printer = None
    if kind == "code":
        from .job_snapshot import snapshot_printer

        printer = options["snapshot_report"] = snapshot_printer(progress, as_json)
    result = create_job(store, kind, name, target, **options)
    version = result.version
    if as_json:
        snapshot = {"snapshot": printer.to_json()} if printer else {}
        print_json({**version.to_json(), "created": result.created, **snapshot})
    elif result.created:
        click.echo(f"created {version.ref} ({version.type}, digest {version.digest[:12]})")
    else:
        click.echo(f"{name}: same content as {version.ref}; no new version added")
    if printer is not None:
        printer.summary()
    if as_json:
        return
    if options.get("aliases"):
        click.echo(f"aliases of {version.ref}: {', '.join(version.aliases)}")


@create_group.command("image")
@click.argument("name")
@click.argument("image")
@_common_create_options
@with_store
def create_image(store, name, image, entrypoint, schema, aliases, description, as_json):
    """Create job NAME that runs container IMAGE."""
    _create(
        store,
        "image",
        name,
        image,
        as_json=as_json,
        entrypoint=entrypoint,
        schema_path=schema,
        aliases=aliases,
        description=description,
    )


@create_group.command("code")
@click.argument("name")
@click.argument("path")
@_common_create_options
@_build_options
@click.option(
    "--progress",
    is_flag=True,
    help="Show packing progress on stderr even when it is no terminal (on one, it shows).",
)
@with_store
def create_code(
    store,
    name,
    path,
    entrypoint,
    schema,
    aliases,
    description,
    dockerfile,
    base_image,
    progress,
    as_json,
):
    """Create job NAME from a snapshot of the local directory PATH; prints its files and size.

    Leaves out .git, __pycache__, .venv and *.pyc, and what a .gitignore or .launchbayignore
    (gitignore syntax) in PATH or below ignores; keeps requirements.txt. Links must be
    relative and stay inside PATH; FIFOs, sockets and devices are refused."""
    _create(
        store,
        "code",
        name,
        path,
        as_json=as_json,
        progress=progress,
        entrypoint=entrypoint,
        schema_path=schema,
        aliases=aliases,
        description=description,
        dockerfile=dockerfile,
        base_image=base_image,
    )


@create_group.command("git")
@click.argument("name")
@click.argument("url")
@click.option(
    "--ref",
    "-r",
    metavar="REF",
    help="Branch, tag or commit (default: the remote's"
    " HEAD). Resolved now and pinned to its commit.",
)
@click.option("--subdir", metavar="DIR", help="Run from this directory of the repository.")
@_common_create_options
@_build_options
@with_store
def create_git(
    store,
    name,
    url,
    ref,
    subdir,
    entrypoint,
    schema,
    aliases,
    description,
    dockerfile,
    base_image,
    as_json,
):
    """Create job NAME from the git repository at URL (https, ssh or file://)."""
    _create(
        store,
        "git",
        name,
        url,
        as_json=as_json,
        entrypoint=entrypoint,
        schema_path=schema,
        aliases=aliases,
        description=description,
        ref=ref,
        subdir=subdir,
        dockerfile=dockerfile,
        base_image=base_image,
    )


@job_group.command("list")
@json_option
@db_option
@with_store
def list_jobs(store, as_json):
    """List jobs with their latest version."""
    jobs = store.jobs.list_latest()
    if as_json:
        print_json([{**v.to_json(), "versions": count} for v, count in jobs])
        return
    print_table(
        ["job", "latest", "type", "versions", "aliases", "created", "description"],
        [
            (
                v.name,
                f"v{v.version}",
                v.type,
                count,
                ",".join(a for a in v.aliases if a != "latest") or "-",
                ago(v.created_at),
                v.description or "-",
            )
            for v, count in jobs
        ],
        empty="no jobs yet: launchbay job create code NAME PATH",
    )


@job_group.command("describe")
@click.argument("ref", shell_complete=complete_jobs)
@json_option
@db_option
@with_store
def describe_job(store, ref, as_json):
    """Describe a job version: NAME (latest), NAME:vN or NAME:ALIAS."""
    version = store.jobs.resolve(ref)
    versions = store.jobs.versions(version.name)
    if as_json:
        print_json({**version.to_json(), "versions": [v.to_json() for v in versions]})
        return
    click.echo(f"job:          {version.ref}")
    click.echo(f"type:         {version.type}")
    click.echo(f"aliases:      {', '.join(version.aliases) or '-'}")
    click.echo(f"description:  {version.description or '-'}")
    click.echo(f"digest:       {version.digest}")
    entrypoint = " ".join(version.entrypoint) if version.entrypoint else "(the type's default)"
    click.echo(f"entrypoint:   {entrypoint}")
    for key, value in version.source.items():
        click.echo(f"{key + ':':<14}{value if value is not None else '-'}")
    if version.input_schema:
        click.echo("input schema:")
        for name, prop in (version.input_schema.get("properties") or {}).items():
            details = ", ".join(f"{k}={v}" for k, v in prop.items() if k != "description")
            text = f"  {name}: {details}"
            if prop.get("description"):
                text += f"  — {prop['description']}"
            click.echo(text)
    click.echo("versions:")
    for v in versions:
        aliases = f"  [{', '.join(v.aliases)}]" if v.aliases else ""
        click.echo(f"  v{v.version}  {v.digest[:12]}  {ago(v.created_at)}{aliases}")

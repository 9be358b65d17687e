"""What every command shares: the --db option, opening the store, exit codes."""

import functools

import click

from .completion import complete_queues

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
MAX_JOBS_LIMIT = 100_000
"""Highest -j an agent accepts: far more runs than one machine keeps, and an SQLite integer."""
SQLITE_MAX_INTEGER = 2**63 - 1


def _remember_db(ctx: click.Context, _param, value):
    if value is not None:
        ctx.find_root().meta["launchbay.db"] = value
    return value


class _DbOption(click.Option):
    """--db, whose help names the default file itself: found only when help is shown, since
    finding it imports platformdirs."""

    def get_help_record(self, ctx: click.Context):
        from store.paths import default_db_path

        record = super().get_help_record(ctx)
        if record is None:
            return None
        names, text = record
        return names, text.replace("DEFAULT", str(default_db_path()))


def db_option(func):
    """`--db PATH`, accepted on the group and on every command (the command's wins)."""
    return click.option(
        "--db",
        cls=_DbOption,
        metavar="PATH",
        expose_value=False,
        is_eager=True,
        callback=_remember_db,
        help="SQLite file to use (default: $LAUNCHBAY_DB, else DEFAULT).",
    )(func)


def agent_options(default_max_jobs: int):
    """`-q/--queue QUEUE …` and `-j/--max-jobs N`: what an agent serves, for `launchbay agent`
    (W&B's `launch-agent -j`: one run at a time unless told) and for the app's embedded agent
    (no agent-wide limit: each queue's own max_concurrency, and the free GPUs, decide)."""
    if default_max_jobs == -1:
        default_help = "default: no agent-wide limit; each queue's max_concurrency applies"
    else:
        default_help = f"default: {default_max_jobs}, as W&B's agent -j"

    def decorate(func):
        func = click.option(
            "--max-jobs",
            "-j",
            # A range, not a bare int: a number too big for SQLite is refused here in one line.
            type=click.IntRange(-1, MAX_JOBS_LIMIT),
            default=default_max_jobs,
            metavar="N",
            help=f"Most runs live at once, -1 for no limit ({default_help}).",
        )(func)
        return click.option(
            "--queue",
            "-q",
            "queues",
            multiple=True,
            metavar="QUEUE",
            help="Queue the agent serves (repeatable; default: all).",
            shell_complete=complete_queues,
        )(func)

    return decorate


def json_option(func):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


def open_store():
    """The store named by --db / $LAUNCHBAY_DB / the default."""
    from store import Store

    ctx = click.get_current_context()
    return Store.open(ctx.find_root().meta.get("launchbay.db"))


def with_store(func):
    """Pass an open store as the first argument, and close it afterwards."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from store.errors import DiskFull, is_disk_full

        store = open_store()
        try:
            return func(store, *args, **kwargs)
        except Exception as exc:
            # Only here is the store's path known: SQLite may call a full disk an I/O error.
            if is_disk_full(exc, near=store.path.parent):
                raise DiskFull(str(store.path)) from exc
            raise
        finally:
            store.close()

    return wrapper

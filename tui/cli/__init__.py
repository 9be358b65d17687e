"""The `launchbay` command line. Subcommands import what they need when they run, so that
`launchbay queue list` stays fast and loads no cloud SDK and no Textual."""

import sys

import click

from .agent import agent_command
from .common import EXIT_BAD_INPUT, EXIT_FAILURE, agent_options, db_option
from .gpus import gpus_command
from .jobs import job_group
from .launch import launch_command
from .misc import quickstart_command, resources_command
from .output import error_line
from .queues import queue_group
from .runs import runs_group
from .sweeps import sweep_group

VERSION = "0.1.0"


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(VERSION, "--version", prog_name="launchbay")
@click.option("--no-agent", is_flag=True, help="Open the app without its embedded agent (watch).")
@agent_options(default_max_jobs=-1)
@db_option
@click.pass_context
def cli(ctx, no_agent, queues, max_jobs):
    """launchbay: queue ML jobs and run them on target resources from the terminal.

    Jobs are versioned definitions of work; launches go on FIFO queues (priority first); an
    agent takes them and runs each on its queue's resource (`launchbay resources` lists them).
    Everything lives in one SQLite file.

    With no command, opens the app (runs, queues and jobs, with an embedded agent)."""
    if ctx.invoked_subcommand is None:
        from .app_command import open_app

        open_app(no_agent=no_agent, queues=queues, max_jobs=max_jobs)


for command in (
    job_group,
    queue_group,
    launch_command,
    agent_command,
    runs_group,
    sweep_group,
    resources_command,
    gpus_command,
    quickstart_command,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: bad input is one line and exit 2; other failures exit 1."""
    from store import BadInput, StoreError
    from store.errors import FULL, passing_fault

    try:
        cli.main(args=argv, prog_name="launchbay", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        error_line("aborted")
        sys.exit(EXIT_FAILURE)
    except click.exceptions.NoArgsIsHelpError as exc:  # a bare group, e.g. `launchbay queue`
        click.echo(exc.ctx.get_help())  # a bare group: its help, as asked
        sys.exit(0)
    except click.ClickException as exc:
        if isinstance(exc, click.UsageError):
            where = exc.ctx.command_path if exc.ctx else "launchbay"
            error_line(f"{exc.format_message()} (see '{where} --help')")
            sys.exit(EXIT_BAD_INPUT)
        error_line(exc.format_message())
        sys.exit(EXIT_FAILURE)
    except BadInput as exc:
        error_line(_one_line(str(exc)))
        sys.exit(EXIT_BAD_INPUT)
    except StoreError as exc:
        error_line(_one_line(str(exc)))
        sys.exit(EXIT_FAILURE)
    except Exception as exc:
        fault = passing_fault(exc)
        if fault is None:
            raise  # a bug: its traceback is what fixes it
        # SQLite and the file system say it in their own words; one line says what to do.
        if fault == FULL:
            error_line(f"disk full ({exc}); free some space and retry")
        else:
            error_line(f"{fault} ({exc}) longer than the busy timeout; retry once it is done")
        sys.exit(EXIT_FAILURE)
    sys.exit(0)


def _one_line(message: str) -> str:
    """A message that quotes what the user typed may hold its newlines: shown escaped, so an
    error stays one line (scripts read it so)."""
    return message.replace("\r", "\\r").replace("\n", "\\n")

"""`launchbay agent`: the headless launch agent."""

import signal

import click

from .common import MAX_JOBS_LIMIT, agent_options, db_option, open_store
from .output import note


@click.command("agent")
@agent_options(default_max_jobs=1)
@click.option(
    "--until-empty",
    is_flag=True,
    help="Exit once the served queues have nothing dispatchable and no live runs.",
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.option(
    "--config",
    "-c",
    "config_file",
    metavar="FILE",
    help="W&B's agent config (launch-config.yaml): queues and max_jobs are read (the flags"
    " win); keys with no meaning here are named, as warnings or, where ignoring them would"
    " change what runs, refused.",
)
@db_option
def agent_command(queues, max_jobs, until_empty, quiet, config_file):
    """Take queue items in order (priority first) and run them on their queue's resource.

    Live runs survive the agent: stop it (ctrl-c) and start it again, and it re-adopts them."""
    from runners.agent.loop import Agent

    if config_file is not None:
        from runners.agent.launch_config import load_agent_config

        settings = load_agent_config(config_file, MAX_JOBS_LIMIT)
        for warning in settings.warnings:
            note(f"warning: {warning}")
        ctx = click.get_current_context()
        if not queues and settings.queues:
            queues = settings.queues
        given = ctx.get_parameter_source("max_jobs") is not click.core.ParameterSource.DEFAULT
        if not given and settings.max_jobs is not None:
            max_jobs = settings.max_jobs

    store = open_store()  # fail here, with a clear line, if the database is unusable
    path = store.path
    store.close()
    agent = Agent(
        path,
        queues=list(queues),
        max_jobs=max_jobs,
        until_empty=until_empty,
        report=(lambda _m: None) if quiet else note,
    )

    def stop(_signum, _frame):
        agent.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    agent.run()

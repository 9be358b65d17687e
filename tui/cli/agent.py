"""`launchbay agent`: the headless launch agent."""

import signal

import click

from .common import agent_options, db_option, open_store
from .output import note


@click.command("agent")
@agent_options(default_max_jobs=1)
@click.option(
    "--until-empty",
    is_flag=True,
    help="Exit once the served queues have nothing dispatchable and no live runs.",
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@db_option
def agent_command(queues, max_jobs, until_empty, quiet):
    """Take queue items in order (priority first) and run them on their queue's resource.

    Live runs survive the agent: stop it (ctrl-c) and start it again, and it re-adopts them."""
    from runners.agent.loop import Agent

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

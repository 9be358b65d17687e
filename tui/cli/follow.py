"""`launchbay launch --follow [--agent]`: stay with the launch until its run ends.

Status lines go to stderr, the run's log to stdout. A retry's next attempt, and a preempted
run's requeue, are followed on. The exit code says how the last run ended: 0 finished, 1
failed, crashed, stopped or preempted (or it never ran), 130 on ctrl+c, which leaves the run
(or the waiting item) as it is and says so.
"""

import sys
import threading

import click

from .log_printer import LogPrinter
from .output import note

EXIT_INTERRUPTED = 130


def follow_options(func):
    """--follow/-f and --agent, for `launch`."""
    func = click.option(
        "--agent",
        "with_agent",
        is_flag=True,
        help="With --follow: run an agent for the queue in this process until the run ends.",
    )(func)
    return click.option(
        "--follow",
        "-f",
        is_flag=True,
        help="Wait for the run, print its states and log until it ends; exit 0 if it"
        " finished, 1 if not, 130 on ctrl+c (the run keeps running).",
    )(func)


def check_follow_flags(follow: bool, with_agent: bool) -> None:
    from store import BadInput

    if with_agent and not follow:
        raise BadInput("--agent", "runs an agent while following the launch; expected --follow")


def after_enqueue(store, queue, item_id: int, follow: bool, with_agent: bool) -> None:
    """Say that the item will wait when no agent serves its queue; follow it if asked."""
    from runners.agent.waiting import live_agents_serving

    if not follow:
        if not live_agents_serving(store, queue):
            note(
                f"no agent serves queue {queue.name}: item {item_id} waits until one does"
                f" (launchbay agent -q {queue.name}, or launch with --follow --agent)"
            )
        return
    printer = LogPrinter(sys.stdout)  # the run's log; status lines go above a line drawn

    def say(text: str) -> None:
        printer.aside(note, text)

    agent, agent_thread = _start_agent(store, queue, say) if with_agent else (None, None)
    try:
        code = _follow(store, item_id, with_agent, printer, say)
    finally:
        if agent is not None:
            agent.stop()
            agent_thread.join()
    raise SystemExit(code)


def _follow(store, item_id: int, own_agent: bool, printer: LogPrinter, say) -> int:
    from runners.runlog.follow import LaunchFollower

    follower = LaunchFollower(
        store, item_id, say, printer.line, own_agent=own_agent, redrawn=printer.redrawn
    )
    try:
        followed = follower.follow()
    except KeyboardInterrupt:
        printer.end()
        if follower.current_run is not None:
            run = follower.current_run
            note(
                f"stopped following; run {run} keeps running"
                f" (launchbay runs logs {run} -f; launchbay runs cancel {run})"
            )
        else:
            item = follower.item_id
            note(f"stopped following; item {item} stays queued (launchbay runs cancel {item})")
        return EXIT_INTERRUPTED
    if followed.run is None:
        note(followed.message)
    else:
        run = followed.run
        code = "" if run.exit_code is None else f", exit code {run.exit_code}"
        note(f"run {run.id} {run.state.value}{code}")
    return followed.exit_code


def _start_agent(store, queue, say):
    """An agent for `queue` on a thread of this process, as `quickstart` runs one."""
    from runners.agent.loop import Agent

    def report(message: str) -> None:
        if not message.startswith("run "):  # the follower says what became of the runs
            say(f"agent: {message}")

    agent = Agent(store.path, queues=[queue.name], report=report)
    thread = threading.Thread(target=agent.run, name="launchbay-agent", daemon=True)
    thread.start()
    return agent, thread

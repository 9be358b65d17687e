"""`launchbay` with no command: the Textual app (imported only now: headless commands never
pay for Textual)."""

import sys

from .common import open_store


def open_app(*, no_agent: bool, queues: tuple[str, ...], max_jobs: int) -> None:
    from store import BadInput

    if max_jobs == 0 or max_jobs < -1:
        raise BadInput("--max-jobs", f"{max_jobs}; expected a positive number or -1")
    store = open_store()  # a bad --db fails here with one line, before the screen changes
    try:
        for name in queues:
            store.queues.get(name)
        path = store.path
    finally:
        store.close()
    if not sys.stdout.isatty():
        raise BadInput(
            "terminal",
            "the app needs a terminal; use the subcommands in scripts (launchbay --help)",
        )
    from ..app import LaunchbayApp
    from ..config import load_user_config

    LaunchbayApp(
        path, run_agent=not no_agent, queues=queues, max_jobs=max_jobs, config=load_user_config()
    ).run()

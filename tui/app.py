"""The launchbay app: jobs, queues and live runs over one SQLite file, with an embedded agent.

Thin on purpose: the app owns the modes (declared in navigation.DESTINATIONS), the embedded
agent's worker, the store watcher and the agent's status; each screen owns its own keys and
handlers.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding, BindingsMap
from textual.reactive import reactive
from textual.worker import get_current_worker

from runners.agent.changes import ChangeListener

from . import navigation
from .agent_handover import AgentHandover
from .commands import LaunchbayCommands
from .config import UserConfig, config_path, load_user_config
from .loading import LoaderHost
from .messages import AgentReported, AgentStateChanged, StoreChanged
from .run_endings import RunEndingNews
from .screens.live import shown_screens
from .threads import ThreadStores

# At most this often the screens re-read the store while the agent is busy.
REFRESH_INTERVAL = 0.25
SHUTDOWN_CHECK_SECONDS = 1.0


class LaunchbayApp(AgentHandover, RunEndingNews, LoaderHost, App):
    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute: subclasses live elsewhere
    TITLE = "launchbay"
    # The modes and their number keys come from navigation.DESTINATIONS, per instance (__init__).
    DEFAULT_MODE = "runs"
    COMMANDS = App.COMMANDS | {LaunchbayCommands}
    BINDINGS = [
        Binding("colon", "command_line", "Go to", id="app.goto"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    agent_state = reactive("off")  # off | idle | running | stopped
    agent_live = reactive(0)
    agent_max = reactive(1)
    agent_queues = reactive("all queues")
    agent_error = reactive("")
    agent_others = reactive("")  # other live agents on this store, e.g. a background one

    def __init__(
        self,
        db_path: Path,
        *,
        run_agent: bool = True,
        queues: tuple[str, ...] = (),
        max_jobs: int = -1,  # the queues' own limits (see `launchbay --help`)
        config: UserConfig | None = None,
        offer_sample: bool = True,
    ) -> None:
        super().__init__()
        self._add_destinations()
        self.db_path = Path(db_path)
        self.stores = ThreadStores(self.db_path)
        self.run_agent = run_agent
        self.agent_queue_names = tuple(queues)
        self.agent_max = max_jobs
        self.agent_queues = ", ".join(queues) or "all queues"
        self.config = config or load_user_config()
        self.offer_sample = offer_sample
        self._embedded_agent = None
        self._agent_stopped = threading.Event()
        self._shutdown_requested = threading.Event()
        self._store_listener: ChangeListener | None = None
        self.store_changes = 0
        """How many times the store changed under the app (a screen's read notes it)."""

    def _add_destinations(self) -> None:
        """Each destination's mode, and its number key ahead of the app's own keys (the footer's
        order). Read from the list when the app is made, so an added destination needs no edit
        here."""
        for destination in navigation.DESTINATIONS:
            self.add_mode(destination.mode, destination.screen)
        keys = navigation.bindings()
        # What help lists under "Everywhere", in the footer's order.
        self.BINDINGS = [*keys, *type(self).BINDINGS]
        # Textual copies the class's merged bindings into each node; ours go first.
        self._bindings = BindingsMap([*keys, *(binding for _, binding in self._bindings)])

    def on_mount(self) -> None:
        # Thread workers run on asyncio's default executor (min(32, cores + 4) threads). The
        # store watcher, the agent and each open log hold one for their whole life: give the
        # short reads room, so a busy screen never waits for a free thread.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=16, thread_name_prefix="launchbay-ui")
        )
        if self.config.theme:
            self.use_theme(self.config.theme)
        if self.config.keys:
            self.set_keymap(self.config.keys)
        self.watch_store()
        self.start_run_endings()
        self.check_other_agents()
        if self.run_agent:
            self.start_agent()
        if self.offer_sample:
            self.check_empty_store()
        # The app's objects live as long as it does: keep them out of the collector's full
        # passes, which otherwise pause a keystroke for 100+ ms now and then.
        self.call_after_refresh(gc.freeze)

    def use_theme(self, name: str) -> None:
        """The config's theme; an unknown one leaves the default, and the user is told."""
        if name in self.available_themes:
            self.theme = name
            return
        known = ", ".join(sorted(self.available_themes))
        self.notify(
            f"theme: {name!r} is not a theme; expected one of {known}"
            f" (kept {self.theme}; set it in {config_path()})",
            title="config",
            severity="warning",
            timeout=10,
            markup=False,
        )

    # -- the store watcher -----------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="store-watch")
    def watch_store(self) -> None:
        """Post StoreChanged whenever another connection commits (at most every 250 ms)."""
        listener = self._store_listener = ChangeListener(self.stores.get())
        worker = get_current_worker()
        last_post = 0.0
        try:
            while not worker.is_cancelled and not self._shutdown_requested.is_set():
                listener.mark_seen()
                # The slice bounds how long shutdown waits for this thread if the app dies
                # before on_unmount can poke it (Textual joins thread workers at exit).
                if not listener.wait(time.monotonic() + SHUTDOWN_CHECK_SECONDS):
                    continue
                wait = last_post + REFRESH_INTERVAL - time.monotonic()
                if wait > 0:
                    time.sleep(wait)  # a rate limit on repaints, not a poll: news is waiting
                last_post = time.monotonic()
                self.post_message(StoreChanged())
        finally:
            self._store_listener = None  # on_unmount must not poke a closed listener
            listener.close()

    def on_store_changed(self, message: StoreChanged) -> None:
        # Every screen that shows: the top one and, under a modal, those it leaves visible.
        # A hidden screen sees the count moved on when it comes back, and reads the store
        # then (screens.live), so news is never lost, nor read for a screen nobody sees.
        self.store_changes += 1
        for screen in shown_screens(self):
            screen.post_message(StoreChanged())
        self.check_run_endings()
        self.check_other_agents()

    # -- the embedded agent ----------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="agent")
    def start_agent(self) -> None:
        """The launch agent, as a thread with its own connection. Its failures are shown, not
        fatal: the app goes on watching."""
        from runners.agent.loop import Agent

        agent = self._embedded_agent = Agent(
            self.db_path,
            queues=list(self.agent_queue_names),
            max_jobs=self.agent_max,
            report=lambda text: self.post_message(AgentReported(text)),
        )
        # Posted, not call_from_thread: the agent ends as the app stops, and must not raise then.
        self.post_message(AgentStateChanged("idle"))
        error = None
        try:
            agent.run()
        except Exception as exc:  # shown in the footer; the UI keeps running
            self.post_message(AgentReported(f"agent stopped: {exc}"))
            error = str(exc)
        finally:
            self._agent_stopped.set()
            self.post_message(AgentStateChanged("stopped", error))

    def on_agent_state_changed(self, message: AgentStateChanged) -> None:
        if message.error is not None:
            self.agent_error = message.error
        self.agent_state = message.state

    def on_agent_reported(self, message: AgentReported) -> None:
        agent = self._embedded_agent
        if agent is not None:
            self.agent_live = len(agent.live)
            self.agent_state = "running" if agent.live else "idle"
            if agent.last_error and agent.last_error != self.agent_error:
                self.agent_error = agent.last_error
                self.notify(
                    agent.last_error, title="agent", severity="error", timeout=8, markup=False
                )

    def on_unmount(self) -> None:
        self._shutdown_requested.set()
        if self._embedded_agent is not None:
            self._embedded_agent.stop()
        if self._store_listener is not None:
            self._store_listener.poke()

    # -- empty store ---------------------------------------------------------------------------

    def check_empty_store(self) -> None:
        """Offer the sample job and queue if the store has neither jobs nor queues."""
        self.loader("empty-store", self._store_is_empty, self._offer_sample, self._failed).start()

    def _store_is_empty(self) -> bool:
        store = self.stores.get()
        return not (store.jobs.list_latest() or store.queues.list())

    def _failed(self, error: Exception) -> None:
        self.notify(f"could not read the store: {error}", severity="error", markup=False)

    def _offer_sample(self, empty: bool) -> None:
        from .screens.confirm import ConfirmScreen

        if not empty:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.create_sample()

        self.push_screen(
            ConfirmScreen(
                "This store is empty.\n\nCreate the sample job [b]sample-train[/b] and a"
                " local-process queue [b]local[/b]?",
                yes="Create",
                no="Not now",
            ),
            answered,
        )

    def create_sample(self) -> None:
        from runners.catalog.sample import ensure_sample

        def created(made) -> None:
            job, queue = made
            self.notify(
                f"created {job.version.ref} and queue {queue.name}: press 3, then L", markup=False
            )
            self.post_message(StoreChanged())

        self.loader(
            "sample", lambda: ensure_sample(self.stores.get()), created, self._failed
        ).start()

    # -- navigation ------------------------------------------------------------------------

    def action_go(self, mode: str) -> None:
        navigation.go(self, mode)

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_command_line(self) -> None:
        from .screens.goto import GotoScreen

        self.push_screen(GotoScreen())

    def goto(self, text: str) -> None:
        """`:runs`, `:queues`, `:jobs`, `:q NAME` (a queue), `:r ID` (a run): see navigation."""
        navigation.goto(self, text)

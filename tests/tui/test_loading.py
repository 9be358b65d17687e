"""The one loader pattern (tui/loading.py) and the live-screen base (tui/screens/live.py): a
failed read is shown, an older read that lands late is dropped, a read that ends after the app
quit raises nothing, and a hidden screen reads again only when it comes back."""

import asyncio
import sqlite3
import threading

from helpers_tui import notified, screen_text, settle
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from tui.loading import Loaded, Loader
from tui.messages import StoreChanged
from tui.screens.live import LiveScreen


class ProbeScreen(LiveScreen):
    """A live screen that shows what its read returns."""

    def __init__(self, read, loader_class=Loader) -> None:
        super().__init__()
        self.probe = loader_class(self, "probe", read, self._show, self._failed)
        self.shown: list = []
        self.received: list[int] = []  # the numbers of every Loaded that reached the screen

    def compose(self) -> ComposeResult:
        yield Static("loading…", id="probe")

    def on_mount(self) -> None:
        self.reload()

    def load(self) -> None:
        self.probe.start()

    def _show(self, value) -> None:
        self.shown.append(value)
        self.query_one("#probe", Static).update(str(value))

    def _failed(self, error: Exception) -> None:
        self.query_one("#probe", Static).update(self.show_load_failed("the probe", error))

    def on_loaded(self, outcome: Loaded) -> None:  # Textual calls the base's handler too
        self.received.append(outcome.number)


class ProbeApp(App):
    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.store_changes = 0
        self._first = screen

    def on_mount(self) -> None:
        self.push_screen(self._first)

    def on_store_changed(self, message: StoreChanged) -> None:  # as LaunchbayApp does
        self.store_changes += 1
        self.screen.post_message(StoreChanged())


async def test_a_screen_whose_read_raises_shows_the_failure():
    def broken():
        raise sqlite3.OperationalError("disk I/O error")

    screen = ProbeScreen(broken)
    app = ProbeApp(screen)
    async with app.run_test(size=(80, 10)) as pilot:
        await settle(pilot, lambda: "disk I/O error" in screen_text(app), "the failure shown")
        assert "could not read the probe: disk I/O error" in screen_text(app)
        assert "loading…" not in screen_text(app)
        assert any("disk I/O error" in note for note in notified(app))


async def test_an_older_read_that_lands_late_is_dropped():
    release_first = threading.Event()
    calls = iter(["old", "new"])

    def read():
        value = next(calls)
        if value == "old":
            release_first.wait(10)
        return value

    screen = ProbeScreen(read)
    app = ProbeApp(screen)
    async with app.run_test(size=(80, 10)) as pilot:
        await settle(pilot, lambda: screen.probe.number == 1, "the first read started")
        screen.reload()  # the second read, while the first still runs
        await settle(pilot, lambda: screen.shown == ["new"], "the newer read shown")
        release_first.set()
        await settle(pilot, lambda: 1 in screen.received, "the older read landed")
        await pilot.pause()
        assert screen.shown == ["new"]
        assert "new" in screen_text(app)


class WatchedLoader(Loader):
    """Notes whether posting the outcome raised, and when it was done."""

    raised: BaseException | None = None
    posted = threading.Event()

    def _post(self, outcome) -> None:
        try:
            super()._post(outcome)
        except BaseException as exc:
            type(self).raised = exc
            raise
        finally:
            type(self).posted.set()


async def test_a_read_that_ends_after_the_app_quit_raises_nothing():
    release = threading.Event()
    started = threading.Event()

    def read():
        started.set()
        release.wait(10)
        return "late"

    screen = ProbeScreen(read, loader_class=WatchedLoader)
    app = ProbeApp(screen)
    async with app.run_test(size=(80, 10)) as pilot:
        await settle(pilot, started.is_set, "the read started")
    assert not app.is_running
    release.set()
    assert await asyncio.to_thread(WatchedLoader.posted.wait, 10), "the read never ended"
    assert WatchedLoader.raised is None
    assert screen.shown == []


async def test_an_outcome_for_a_screen_being_taken_down_is_dropped():
    # A read queued just before its screen was popped is handled while the screen's widgets
    # are removed: showing it would find no widget to show it in.
    screen = ProbeScreen(lambda: "first")
    app = ProbeApp(Cover())
    async with app.run_test(size=(80, 10)) as pilot:
        await app.push_screen(screen)
        await settle(pilot, lambda: screen.shown == ["first"], "the first read")
        late = Loaded(screen.probe, screen.probe.number, "late")
        await app.pop_screen()
        await screen.probe.deliver(late)  # raises nothing, shows nothing
        assert screen.shown == ["first"]
        assert not screen.query("#probe")  # there was nowhere to show it


class Cover(Screen):
    def compose(self) -> ComposeResult:
        yield Static("cover")


async def test_a_hidden_screen_reads_again_when_it_comes_back_only_if_the_store_changed():
    counter = iter(range(1000))
    screen = ProbeScreen(lambda: next(counter))
    app = ProbeApp(screen)
    async with app.run_test(size=(80, 10)) as pilot:
        await settle(pilot, lambda: screen.shown == [0], "the first read")
        app.push_screen(Cover())
        await settle(pilot, lambda: app.screen is not screen, "covered")
        app.pop_screen()
        await settle(pilot, lambda: app.screen is screen, "back")
        await pilot.pause()
        assert screen.reads == 1 and not screen.dirty  # nothing changed: nothing read

        app.push_screen(Cover())
        await settle(pilot, lambda: app.screen is not screen, "covered again")
        app.post_message(StoreChanged())
        await settle(pilot, lambda: screen.dirty, "the hidden screen dirty")
        assert screen.reads == 1  # not read while hidden
        app.pop_screen()
        await settle(pilot, lambda: screen.shown == [0, 1], "read again on coming back")
        assert screen.reads == 2 and not screen.dirty

        app.post_message(StoreChanged())  # while it shows: read at once
        await settle(pilot, lambda: screen.shown == [0, 1, 2], "read on the change")


async def test_an_empty_store_offers_the_sample_and_yes_creates_it(make_app, store):
    # The app's own one-off reads (is the store empty? create the sample) go through loaders.
    app = make_app(offer_sample=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, lambda: "This store is empty" in screen_text(app), "the offer")
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("y")
        note = await settle(
            pilot, lambda: next((n for n in notified(app) if "created" in n), None), "created"
        )
        assert "queue local" in note and "sample-train" in note
        assert store.queues.get("local").resource == "local-process"
        assert [v.name for v, _ in store.jobs.list_latest()] == ["sample-train"]


async def test_a_store_with_a_queue_offers_nothing(make_app, store):
    from kit import make_queue

    make_queue(store, "local")
    app = make_app(offer_sample=True)
    async with app.run_test(size=(120, 36)) as pilot:
        runs = app.screen
        await settle(pilot, lambda: not any(w.group == "load-empty-store" for w in app.workers))
        await pilot.pause()
        assert app.screen is runs

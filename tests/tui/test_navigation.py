"""Navigation has one source: a destination added to navigation.DESTINATIONS, and nothing else,
gets its mode, its number key, its palette entry, its `:` verbs and its lines in help."""

from helpers_tui import highlighted_command, notified, settle
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from tui import navigation
from tui.navigation import Destination, GotoArgument


class NotebooksScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Static("the notebooks", id="notebooks-text")


def _add_notebooks(monkeypatch) -> list[str]:
    """One more destination, `9` / `:notebooks` / `:nb NAME`; returns what `:nb NAME` was
    given."""
    opened: list[str] = []
    notebooks = Destination(
        "notebooks",
        "9",
        "Notebooks",
        NotebooksScreen,
        ("notebooks", "nb"),
        GotoArgument(lambda app, name: opened.append(name), "nb NAME"),
    )
    monkeypatch.setattr(navigation, "DESTINATIONS", [*navigation.DESTINATIONS, notebooks])
    return opened


async def test_an_added_destination_gets_its_key_goto_palette_and_help(make_app, monkeypatch):
    opened = _add_notebooks(monkeypatch)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("9")
        await settle(pilot, lambda: app.current_mode == "notebooks", "9 switches to Notebooks")
        assert isinstance(app.screen, NotebooksScreen)

        await pilot.press("1")
        await settle(pilot, lambda: app.current_mode == "runs", "1 back to Runs")
        await pilot.press("colon")
        await settle(pilot, lambda: type(app.screen).__name__ == "GotoScreen", "goto")
        assert ":nb NAME" in app.screen.query_one("#goto-input").placeholder
        await pilot.press(*"notebooks", "enter")
        await settle(pilot, lambda: app.current_mode == "notebooks", ":notebooks")
        app.goto(":nb node-7")
        assert opened == ["node-7"]

        await pilot.press("1", "ctrl+p")
        await settle(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "palette")
        await pilot.press(*"Go to Notebooks")
        await settle(pilot, lambda: "Notebooks" in highlighted_command(app), "the command found")
        await pilot.press("enter")
        await settle(
            pilot, lambda: app.current_mode == "notebooks", "the palette goes to Notebooks"
        )

        await pilot.press("question_mark")
        await settle(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "help")
        text = str(app.screen.query_one("#help-text").render())
        assert "app.notebooks" in text and ":notebooks" in text and ":nb NAME" in text
        notebooks_line = next(line for line in text.splitlines() if "app.notebooks" in line)
        assert notebooks_line.split()[:2] == ["9", "Notebooks"]


async def test_an_unknown_verb_lists_every_destinations_forms(make_app, monkeypatch):
    _add_notebooks(monkeypatch)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        app.goto(":nowhere")
        await settle(pilot, lambda: notified(app), "the warning")
        forms = ":runs, :queues, :jobs, :gpus, :sweeps, :notebooks, :nb NAME, :q NAME, :r RUN"
        assert forms in notified(app)[-1]


async def test_the_built_in_destinations_keep_their_keys_and_binding_ids(make_app):
    app = make_app()
    ids = {binding.id: binding.key for binding in app.BINDINGS}
    assert {
        "app.runs": "1",
        "app.queues": "2",
        "app.jobs": "3",
        "app.gpus": "4",
        "app.sweeps": "5",
    }.items() <= (ids.items())
    assert [b.id for b in app.BINDINGS][:4] == ["app.runs", "app.queues", "app.jobs", "app.gpus"]


async def test_a_destinations_key_is_rebound_by_its_id(make_app):
    from tui.config import UserConfig

    app = make_app(config=UserConfig(keys={"app.queues": "f2"}))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f2")
        await settle(pilot, lambda: app.current_mode == "queues", "f2 goes to Queues")


async def test_a_destinations_key_goes_to_the_top_of_its_section(store, tmp_path, make_app):
    from kit import claimed_run

    from tui.screens.run_detail import RunDetailScreen
    from tui.screens.runs import RunsScreen

    claimed_run(store, tmp_path, "kj3x9mf2")
    app = make_app()
    async with app.run_test() as pilot:
        app.goto(":r kj3")  # a unique prefix of the run's id
        await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen), "the run")
        assert app.screen.run_id == "kj3x9mf2"
        await pilot.press("1")
        await settle(pilot, lambda: isinstance(app.screen, RunsScreen), "the runs list")
        app.goto(":r zz")
        await settle(pilot, lambda: any("no run with id" in n for n in notified(app)), "a note")
        assert isinstance(app.screen, RunsScreen)

"""Navigation has one source: a destination added to navigation.DESTINATIONS, and nothing else,
gets its mode, its number key, its palette entry, its `:` verbs and its lines in help."""

from helpers_tui import notified, settle
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from tui import navigation
from tui.navigation import Destination, GotoArgument


class GpusScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Static("the GPUs", id="gpus-text")


def _add_gpus(monkeypatch) -> list[str]:
    """A fourth destination, `4` / `:gpus` / `:g NAME`; returns what `:g NAME` was given."""
    opened: list[str] = []
    gpus = Destination(
        "gpus",
        "4",
        "GPUs",
        GpusScreen,
        ("gpus", "g"),
        GotoArgument(lambda app, name: opened.append(name), "g NAME"),
    )
    monkeypatch.setattr(navigation, "DESTINATIONS", [*navigation.DESTINATIONS, gpus])
    return opened


def _highlighted_command(app) -> str:
    from textual.command import CommandList

    commands = app.screen.query_one(CommandList)
    if commands.highlighted is None:
        return ""
    return str(commands.get_option_at_index(commands.highlighted).prompt)


async def test_an_added_destination_gets_its_key_goto_palette_and_help(make_app, monkeypatch):
    opened = _add_gpus(monkeypatch)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("4")
        await settle(pilot, lambda: app.current_mode == "gpus", "4 switches to GPUs")
        assert isinstance(app.screen, GpusScreen)

        await pilot.press("1")
        await settle(pilot, lambda: app.current_mode == "runs", "1 back to Runs")
        await pilot.press("colon")
        await settle(pilot, lambda: type(app.screen).__name__ == "GotoScreen", "goto")
        assert ":g NAME" in app.screen.query_one("#goto-input").placeholder
        await pilot.press(*"gpus", "enter")
        await settle(pilot, lambda: app.current_mode == "gpus", ":gpus")
        app.goto(":g node-7")
        assert opened == ["node-7"]

        await pilot.press("1", "ctrl+p")
        await settle(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "palette")
        await pilot.press(*"Go to GPUs")
        await settle(pilot, lambda: "GPUs" in _highlighted_command(app), "the command found")
        await pilot.press("enter")
        await settle(pilot, lambda: app.current_mode == "gpus", "the palette goes to GPUs")

        await pilot.press("question_mark")
        await settle(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "help")
        text = str(app.screen.query_one("#help-text").render())
        assert "app.gpus" in text and ":gpus" in text and ":g NAME" in text
        gpus_line = next(line for line in text.splitlines() if "app.gpus" in line)
        assert gpus_line.split()[:2] == ["4", "GPUs"]


async def test_an_unknown_verb_lists_every_destinations_forms(make_app, monkeypatch):
    _add_gpus(monkeypatch)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        app.goto(":nowhere")
        await settle(pilot, lambda: notified(app), "the warning")
        assert ":runs, :queues, :jobs, :gpus, :g NAME, :q NAME, :r RUN" in notified(app)[-1]


async def test_the_built_in_destinations_keep_their_keys_and_binding_ids(make_app):
    app = make_app()
    ids = {binding.id: binding.key for binding in app.BINDINGS}
    assert {"app.runs": "1", "app.queues": "2", "app.jobs": "3"}.items() <= ids.items()
    assert [b.id for b in app.BINDINGS][:3] == ["app.runs", "app.queues", "app.jobs"]


async def test_a_destinations_key_is_rebound_by_its_id(make_app):
    from tui.config import UserConfig

    app = make_app(config=UserConfig(keys={"app.queues": "f2"}))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f2")
        await settle(pilot, lambda: app.current_mode == "queues", "f2 goes to Queues")

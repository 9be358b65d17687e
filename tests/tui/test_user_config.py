"""The config file, read from where tui/config.py finds it (LAUNCHBAY_CONFIG_DIR here): its
theme and key rebindings apply, help and the palette show the keys in force, and an unknown
theme falls back with a notice (issue 11 points 25 and 33)."""

import os
from pathlib import Path

from fixed_data import seed
from helpers_tui import notified, settle

from tui.app import LaunchbayApp


def write_config(text: str) -> Path:
    path = Path(os.environ["LAUNCHBAY_CONFIG_DIR"]) / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def app_reading_the_file(db_path) -> LaunchbayApp:
    return LaunchbayApp(db_path, run_agent=False, offer_sample=False)  # config: from the file


def _highlighted_command(app) -> str:
    from textual.command import CommandList

    commands = app.screen.query_one(CommandList)
    if commands.highlighted is None:
        return ""
    return str(commands.get_option_at_index(commands.highlighted).prompt)


async def _runs_loaded(pilot, app) -> None:
    await settle(
        pilot,
        lambda: app.screen.query("#runs-table") and app.screen.query_one("#runs-table").row_at(0),
        "the runs read",
    )


async def test_the_theme_and_a_rebound_key_come_from_the_config_file(db_path, store, tmp_path):
    seed(store, tmp_path)
    write_config("theme: nord\nkeys:\n  runs.cancel: ctrl+x\n")
    app = app_reading_the_file(db_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await _runs_loaded(pilot, app)
        assert app.theme == "nord"
        await pilot.press("ctrl+x")  # the file's key cancels
        await settle(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", "the question")
        await pilot.press("n")
        await settle(pilot, lambda: type(app.screen).__name__ != "ConfirmScreen", "answered")


async def test_help_shows_the_key_the_user_bound_not_the_default(db_path, store, tmp_path):
    seed(store, tmp_path)
    write_config("keys:\n  runs.cancel: ctrl+x\n  app.quit: ctrl+q\n")
    app = app_reading_the_file(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _runs_loaded(pilot, app)
        await pilot.press("question_mark")
        await settle(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "the help")
        lines = str(app.screen.query_one("#help-text").render()).splitlines()
        cancel = next(line for line in lines if "runs.cancel" in line)
        quit_ = next(line for line in lines if "app.quit" in line)
        assert "^x" in cancel and "^k" not in cancel  # as typed, as the footer shows it
        assert "^q" in quit_
        # Keys as a user types them, not Textual's names for them.
        text = "\n".join(lines)
        assert "slash" not in text and "question_mark" not in text
        assert any(line.split()[:1] == ["/"] and "runs.filter" in line for line in lines)


async def test_the_palette_shows_the_key_the_user_bound(db_path, store, tmp_path):
    seed(store, tmp_path)
    write_config("keys:\n  runs.cancel: ctrl+x\n")
    app = app_reading_the_file(db_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await _runs_loaded(pilot, app)
        await pilot.press("ctrl+p")
        await settle(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "palette")
        await pilot.press(*"Runs: Cancel")
        await settle(pilot, lambda: "Cancel" in _highlighted_command(app), "the command found")
        assert "key ^x" in _highlighted_command(app)
        assert "ctrl+k" not in _highlighted_command(app)


async def test_an_unknown_theme_keeps_the_default_and_says_so(db_path, store, tmp_path):
    seed(store, tmp_path)
    write_config("theme: no-such-theme\n")
    app = app_reading_the_file(db_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await _runs_loaded(pilot, app)  # the app runs
        assert app.theme == "textual-dark"
        notice = await settle(
            pilot,
            lambda: next((n for n in notified(app) if "no-such-theme" in n), None),
            "the notice",
        )
        assert "is not a theme" in notice and "nord" in notice


async def test_help_and_palette_show_a_key_rebound_while_the_app_runs(make_app, store, tmp_path):
    # Not from the config file: rebound later (Textual's update_keymap), which only the
    # bindings in force know of.
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _runs_loaded(pilot, app)
        app.update_keymap({"runs.cancel": "ctrl+x", "app.queues": "f2", "app.help": "f1"})
        await pilot.press("f1")
        await settle(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "the help, by f1")
        lines = str(app.screen.query_one("#help-text").render()).splitlines()
        cancel = next(line for line in lines if "runs.cancel" in line)
        queues = next(line for line in lines if "app.queues" in line)
        assert cancel.split()[0] == "^x" and queues.split()[0] == "f2"
        await pilot.press("escape")
        await settle(pilot, lambda: type(app.screen).__name__ != "HelpScreen", "help closed")

        await pilot.press("ctrl+p")
        await settle(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "palette")
        await pilot.press(*"Runs: Cancel")
        await settle(pilot, lambda: "Cancel" in _highlighted_command(app), "the command found")
        assert "key ^x" in _highlighted_command(app)
        for _ in "Runs: Cancel":
            await pilot.press("backspace")
        await pilot.press(*"Go to Queues")
        await settle(pilot, lambda: "Queues" in _highlighted_command(app), "the command found")
        assert "(f2)" in _highlighted_command(app)

"""The Runs screen and the app's conventions, driven by keys, asserted on store and screen."""

import sys

from fixed_data import seed
from helpers_tui import answer_no, highlighted_command, screen_text, settle
from kit import launch, make_queue

from runners.catalog.jobs import create_job
from store import RunState, Store
from tui.config import UserConfig
from tui.screens.launch import LaunchScreen
from tui.screens.run_detail import RunDetailScreen
from tui.widgets.window_table import WindowTable


def _table(app) -> WindowTable:
    return app.screen.query_one("#runs-table", WindowTable)


def _ids(table: WindowTable) -> list[str]:
    return [table.row_at(i).id for i in range(table.total or 0) if table.row_at(i)]


async def _loaded(pilot, app):
    return await settle(
        pilot,
        lambda: _table(app).counted and _table(app).row_at(0) is not None and _table(app),
        "rows loaded and counted",
    )


async def test_runs_are_listed_newest_first_with_their_state(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        table = await _loaded(pilot, app)
        assert table.total == 6
        assert _ids(table) == [
            "k3x9mf2a",
            "h7wq4nzp",
            "c2vb8rte",
            "m5ty6uio",
            "p9as2dfg",
            "w4zx7cvb",
        ]
        screen_text_ = screen_text(app)
        assert "running" in screen_text_ and "crashed" in screen_text_
        # The status line follows the count's Loaded message, a moment after the count.
        await settle(
            pilot,
            lambda: "6 runs" in str(app.screen.query_one("#runs-status").render()),
            "the count in the status line",
        )


async def test_a_change_by_another_connection_shows_up(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        table = await _loaded(pilot, app)
        assert table.row_at(0).state is RunState.RUNNING
        other = Store.open(store.path)  # as another process would
        other.runs.transition("k3x9mf2a", RunState.FINISHED, "exited with code 0", exit_code=0)
        other.close()
        await settle(
            pilot,
            lambda: table.row_at(0) is not None and table.row_at(0).state is RunState.FINISHED,
            "the new state shown",
        )


async def test_filters_by_state_queue_job_and_text(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        table = await _loaded(pilot, app)
        for text, expected in [
            ("state:finished", ["h7wq4nzp", "p9as2dfg"]),
            ("queue:cpu", ["c2vb8rte", "p9as2dfg"]),
            ("job:train state:stopped,crashed", ["m5ty6uio", "w4zx7cvb"]),
            ("c2vb", ["c2vb8rte"]),
        ]:
            await pilot.press("slash")
            box = app.screen.query_one("#runs-filter")
            box.value = ""
            await pilot.press(*text)
            await settle(
                pilot,
                lambda expected=expected: table.total == len(expected) and _ids(table) == expected,
                f"filter {text!r}",
            )
            await pilot.press("enter")
        await pilot.press("escape")  # clears the filter
        await settle(pilot, lambda: table.total == 6, "all runs again")


async def test_describe_shows_events_error_and_a_redacted_spec(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _loaded(pilot, app)
        table.cursor = 2  # c2vb8rte, failed
        await pilot.press("enter")
        screen = await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen)
        await settle(pilot, lambda: screen.run is not None, "the run loaded")
        text = screen_text(app)
        assert "c2vb8rte" in text and "exited with code 3" in text
        assert "hf_secret_value" not in text and "***" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, RunDetailScreen)
        await pilot.press("d")
        await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen), "d describes")


async def test_cancel_asks_then_asks_the_run_to_stop(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await _loaded(pilot, app)
        await pilot.press("ctrl+k")
        await answer_no(pilot)
        assert store.runs.get("k3x9mf2a").state is RunState.RUNNING
        await pilot.press("ctrl+k")
        await settle(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", "a question")
        await pilot.press("y")
        await settle(
            pilot, lambda: store.runs.get("k3x9mf2a").state is RunState.STOPPING, "the run stopping"
        )


async def test_relaunch_opens_the_form_prefilled(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        table = await _loaded(pilot, app)
        table.cursor = 1
        await pilot.press("r")
        screen = await settle(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen)
        assert screen.relaunch_of == "h7wq4nzp"
        await settle(
            pilot, lambda: screen.query_one("#launch-job").value == "train:v0", "the job prefilled"
        )
        assert screen.query_one("#launch-queue").value == "gpu-box"


async def test_modes_goto_and_help(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await _loaded(pilot, app)
        await pilot.press("2")
        assert app.current_mode == "queues"
        await pilot.press("3")
        assert app.current_mode == "jobs"
        await pilot.press("1")
        assert app.current_mode == "runs"
        await pilot.press("colon")
        await settle(pilot, lambda: type(app.screen).__name__ == "GotoScreen", "goto")
        await pilot.press(*"queues", "enter")
        await settle(pilot, lambda: app.current_mode == "queues", ":queues")
        await pilot.press("1", "question_mark")
        await settle(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "help")
        text = str(app.screen.query_one("#help-text").render())
        assert "runs.cancel" in text and "app.quit" in text
        await pilot.press("escape")
        assert type(app.screen).__name__ == "RunsScreen"


async def test_keys_can_be_rebound_by_binding_id(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app(config=UserConfig(keys={"runs.describe": "x"}))
    async with app.run_test(size=(120, 36)) as pilot:
        await _loaded(pilot, app)
        await pilot.press("x")
        await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen), "x describes")


async def test_the_embedded_agent_runs_what_is_launched(make_app, store, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "main.py").write_text("print('from the embedded agent')\n")
    create_job(store, "code", "hello", str(folder), entrypoint=f"{sys.executable} main.py")
    make_queue(store)
    app = make_app(run_agent=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, lambda: app.agent_state == "idle", "the agent up")
        launch(store, "hello")
        table = await settle(
            pilot,
            lambda: (
                (t := _table(app)).row_at(0) is not None and t.row_at(0).state.is_terminal() and t
            ),
            "the run's end",
            tries=1200,  # a process start on a loaded machine: up to a minute
        )
        run_id = table.row_at(0).id
        run = store.runs.get(run_id)
        log_path = store.run_dir(run_id) / "output.log"
        log = log_path.read_text() if log_path.exists() else "(no log)"
        assert run.state is RunState.FINISHED, (
            run.state,
            run.message,
            run.exit_code,
            run.error_stage,
            run.error_message,
            [(e.to_state, e.message) for e in store.runs.events(run_id)],
            log,
        )
        assert "idle" in str(app.screen.query_one("AgentBar").render())
    log = (store.run_dir(run_id) / "output.log").read_text()
    assert "from the embedded agent" in log


async def test_the_command_palette_offers_the_screens_actions(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await _loaded(pilot, app)
        await pilot.press("ctrl+p")
        await settle(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "palette")
        await pilot.press(*"Runs: Describe")
        await settle(pilot, lambda: "Describe" in highlighted_command(app), "the command found")
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen), "described")


async def test_a_filter_being_typed_is_reported_once_not_at_every_key(make_app, store, tmp_path):
    from helpers_tui import notified

    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        table = await _loaded(pilot, app)
        await pilot.press("slash", *"state:finished")  # f, fi, fin… are no states on the way
        await settle(pilot, lambda: _ids(table) == ["h7wq4nzp", "p9as2dfg"], "the filter")
        await pilot.pause(1.0)  # longer than the pause after which a bad filter is told
        assert not [n for n in notified(app) if "unknown state" in n]
        box = app.screen.query_one("#runs-filter")
        box.value = ""
        await pilot.press(*"state:done")
        assert box.has_class("-invalid")
        await settle(pilot, lambda: [n for n in notified(app) if "unknown state" in n], "told")
        told = [n for n in notified(app) if "unknown state" in n]
        assert len(told) == 1 and "'done'" in told[0]
        box.value = ""
        await pilot.press(*"state:xyz", "enter")  # enter tells at once, before the pause
        assert any("'xyz'" in n for n in notified(app))

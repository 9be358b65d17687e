"""Screens keep up with the store: a failed read is shown, a screen you come back to is read
again, a screen under a modal still follows the store (issue 11 points 24 and 26)."""

import sqlite3

from fixed_data import seed
from helpers_tui import screen_text, settle

from store import RunState
from store.jobs import JobStore
from tui.screens.run_detail import RunDetailScreen
from tui.screens.run_log import RunLogScreen


async def test_a_jobs_list_that_cannot_be_read_says_why(make_app, monkeypatch):
    def broken(self):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(JobStore, "list_latest", broken)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3")
        await settle(pilot, lambda: "disk I/O error" in screen_text(app), "the failure shown")
        assert "loading…" not in screen_text(app)


def _finish(store, run_id: str) -> None:
    store.runs.transition(run_id, RunState.FINISHED, "exited with code 0", exit_code=0)


async def test_the_run_detail_is_current_when_you_come_back_from_its_log(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        app.push_screen(RunDetailScreen("k3x9mf2a"))
        detail = await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen)
        await settle(pilot, lambda: detail.run is not None, "the run read")
        assert detail.run.state is RunState.RUNNING
        await pilot.press("l")
        log = await settle(pilot, lambda: isinstance(app.screen, RunLogScreen) and app.screen)
        _finish(store, "k3x9mf2a")
        # The log saw the change (its title says the state): the detail below did not.
        await settle(pilot, lambda: "finished" in (log.sub_title or ""), "the log told")
        # A read the detail had in flight before the log opened may land after the change:
        # what counts is a read made because it came back.
        reads_while_hidden = detail.reads
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is detail, "back on the detail")
        await settle(pilot, lambda: detail.reads > reads_while_hidden, "a read on coming back")
        await settle(
            pilot,
            lambda: detail.run.state is RunState.FINISHED and "finished" in screen_text(app),
            "the detail read again",
        )


async def test_a_screen_under_a_modal_keeps_following_the_store(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        runs = app.screen
        table = runs.query_one("#runs-table")
        await settle(pilot, lambda: table.row_at(0) is not None, "the runs read")
        assert table.row_at(0).id == "k3x9mf2a" and table.row_at(0).state is RunState.RUNNING
        await pilot.press("question_mark")
        await settle(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "the help")
        _finish(store, "k3x9mf2a")
        await settle(
            pilot,
            lambda: table.row_at(0) is not None and table.row_at(0).state is RunState.FINISHED,
            "the runs under the help read again",
        )
        assert type(app.screen).__name__ == "HelpScreen"


async def test_a_run_that_cannot_be_read_says_why(make_app, store, tmp_path, monkeypatch):
    from store.runs import RunStore

    seed(store, tmp_path)

    def broken(self, run_id):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(RunStore, "events", broken)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        app.push_screen(RunDetailScreen("k3x9mf2a"))
        await settle(pilot, lambda: "disk I/O error" in screen_text(app), "the failure shown")
        assert "loading…" not in screen_text(app)

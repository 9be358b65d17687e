"""Told when a run ends (issue 16): a toast in the app for any run of the store that ends, with
a failure's reason; a bell and OSC 9 / OSC 777 written to the terminal (wrapped for tmux),
unless the config file says `terminal_notify: false`."""

from helpers_tui import settle
from kit import claimed_run

from store import RunState, Stage, Store
from tui.config import UserConfig
from tui.run_endings import terminal_sequence


async def _app_watching(pilot, app) -> list[str]:
    """Wait until the app knows where news begins; returns what it writes to the terminal."""
    await settle(pilot, lambda: app._ended_watermark is not None, "the app watching endings")
    written: list[str] = []
    app._driver.write = written.append
    return written


def _end_elsewhere(store, run_id: str, state: RunState, **kwargs) -> None:
    other = Store.open(store.path)  # as the agent of another process would
    other.runs.transition(run_id, RunState.RUNNING)
    other.runs.transition(run_id, state, **kwargs)
    other.close()


def _toasts(app) -> list:
    return [(n.title, n.message, n.severity) for n in app._notifications]


async def test_a_run_failing_anywhere_is_a_toast_with_its_reason_a_bell_and_an_osc(
    make_app, store, tmp_path, monkeypatch
):
    monkeypatch.delenv("TMUX", raising=False)
    claimed_run(store, tmp_path, "fail2345")
    app = make_app()
    async with app.run_test() as pilot:
        written = await _app_watching(pilot, app)
        _end_elsewhere(
            store,
            "fail2345",
            RunState.FAILED,
            message="exited with code 3",
            exit_code=3,
            error_stage=Stage.RUN,
            error_message="exited with code 3",
        )
        toast = await settle(
            pilot,
            lambda: [t for t in _toasts(app) if t[0] == "run fail2345 failed"],
            "the toast",
        )
        title, message = "run fail2345 failed", "train:v0 on local: [run] exited with code 3"
        assert toast == [(title, message, "error")]
        assert written == [f"\a\x1b]9;{title}: {message}\a\x1b]777;notify;{title};{message}\a"]


async def test_finished_and_preempted_runs_are_toasts_too(make_app, store, tmp_path):
    claimed_run(store, tmp_path, "done2345")
    claimed_run(store, tmp_path, "pree2345")
    app = make_app()
    async with app.run_test() as pilot:
        await _app_watching(pilot, app)
        _end_elsewhere(store, "done2345", RunState.FINISHED, message="exited with code 0")
        store.runs.add_note("done2345", "notification failed")  # news, but no second ending
        _end_elsewhere(store, "pree2345", RunState.PREEMPTED, message="node reclaimed")
        await settle(pilot, lambda: len(_toasts(app)) == 2, "two toasts")
        assert _toasts(app) == [
            ("run done2345 finished", "train:v0 on local: exited with code 0", "information"),
            ("run pree2345 preempted", "train:v0 on local: node reclaimed", "warning"),
        ]


async def test_terminal_notify_false_keeps_the_toast_and_writes_nothing(make_app, store, tmp_path):
    claimed_run(store, tmp_path, "quie2345")
    app = make_app(config=UserConfig(terminal_notify=False))
    async with app.run_test() as pilot:
        written = await _app_watching(pilot, app)
        _end_elsewhere(store, "quie2345", RunState.FINISHED)
        await settle(pilot, lambda: _toasts(app), "the toast")
        assert written == []


def test_inside_tmux_the_notifications_pass_through_to_the_outer_terminal():
    sequence = terminal_sequence("run x finished", "a;b\x1b[31m", environ={"TMUX": "/tmp/t,1,0"})
    inner = "\x1b]9;run x finished: a,b[31m\a\x1b]777;notify;run x finished;a,b[31m\a"
    assert sequence == "\a\x1bPtmux;" + inner.replace("\x1b", "\x1b\x1b") + "\x1b\\"


async def test_the_run_detail_shows_a_retrys_attempt(make_app, store, tmp_path):
    from helpers_tui import screen_text

    from tui.screens.run_detail import RunDetailScreen

    spec = {"attempt": 2, "retry": {"on": ["failed"], "max": 3, "backoff_seconds": 30.0}}
    claimed_run(store, tmp_path, "retr2345", spec=spec)
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        app.push_screen(RunDetailScreen("retr2345"))
        screen = await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen)
        await settle(pilot, lambda: screen.run is not None, "the run loaded")
        summary = screen.query_one("#run-summary")
        await settle(pilot, lambda: "attempt    2 of 4" in str(summary.render()), "the attempt")
        assert "attempt" in screen_text(app)

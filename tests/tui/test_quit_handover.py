"""Quitting while the embedded agent alone serves work (issue 16): the app asks first, and may
leave a background agent, which re-adopts the live run and shows in the footer of any app
opened on the same store afterwards."""

import contextlib
import os
import signal

from helpers_tui import settle
from kit import launch, make_code_job, make_queue, run_of, wait_for

from runners.system import procinfo
from store import RunState
from tui.screens.quit import QuitScreen


def _gated_job(store, tmp_path):
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    make_code_job(store, tmp_path, "gated", f"open({str(gate)!r}).read()")
    make_queue(store)
    return gate


def _release(gate) -> None:
    with open(gate, "w"):
        pass


async def _running(pilot, app, store, item: int):
    await settle(
        pilot,
        lambda: (run := store.runs.find_for_item(item)) and run.state is RunState.RUNNING,
        "the run live",
        tries=1200,  # a process start on a loaded machine
    )


async def test_quitting_with_a_live_run_leaves_a_background_agent_that_adopts_it(
    make_app, store, tmp_path
):
    gate = _gated_job(store, tmp_path)
    item = launch(store, "gated")
    app = make_app(run_agent=True)
    background = None
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await _running(pilot, app, store, item)
            embedded = app._embedded_agent.id
            await pilot.press("q")
            screen = await settle(pilot, lambda: isinstance(app.screen, QuitScreen) and app.screen)
            assert screen.work == "1 live run(s)"
            await pilot.press("b")
            await settle(pilot, lambda: app._exit, "the app quitting", tries=1200)
        background = wait_for(
            lambda: next((a for a in store.agents.not_stopped() if a.pid != os.getpid()), None),
            what="the background agent registered",
        )
        assert procinfo.is_alive(background.pid, background.pid_start_time)
        assert store.agents.get(embedded).stopped_at is not None
        # The background agent adopts the run the app's agent left, and sees it finish.
        wait_for(
            lambda: store.runs.find_for_item(item).agent_id == background.id,
            what="the run re-adopted",
        )
        logs = list((store.files_dir / "agents").glob("background-*.log"))
        assert len(logs) == 1
        # Its report, a moment after the adoption itself.
        wait_for(lambda: "re-adopted" in logs[0].read_text(), what="the adoption in its log")

        later = make_app()  # another app on the same store, without an agent of its own
        async with later.run_test(size=(160, 36)) as pilot:
            bar = later.screen.query_one("AgentBar")
            await settle(
                pilot,
                lambda: f"other agents: pid {background.pid} (all queues)" in str(bar.render()),
                "the background agent in the footer",
            )
        _release(gate)
        assert run_of(store, item).state is RunState.FINISHED
    finally:
        if background is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(background.pid, signal.SIGTERM)
            wait_for(
                lambda: not procinfo.is_alive(background.pid, background.pid_start_time),
                what="the background agent stopped",
            )


async def test_staying_keeps_the_app_and_its_agent(make_app, store, tmp_path):
    gate = _gated_job(store, tmp_path)
    item = launch(store, "gated")
    app = make_app(run_agent=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await _running(pilot, app, store, item)
        await pilot.press("q")
        await settle(pilot, lambda: isinstance(app.screen, QuitScreen), "the question")
        await pilot.press("escape")
        await settle(pilot, lambda: not isinstance(app.screen, QuitScreen), "answered")
        assert not app._exit and not app._agent_stopped.is_set()
        _release(gate)
        await settle(
            pilot, lambda: store.runs.find_for_item(item).state is RunState.FINISHED, "the end"
        )


async def test_quitting_with_nothing_left_to_serve_asks_nothing(make_app, store, tmp_path):
    make_queue(store)
    app = make_app(run_agent=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, lambda: app.agent_state == "idle", "the agent up")
        await pilot.press("q")
        await settle(pilot, lambda: app._exit, "the app quitting")
        assert not isinstance(app.screen, QuitScreen)


async def test_quitting_asks_nothing_when_another_agent_serves_the_queue(
    make_app, store, tmp_path, db_path
):
    from kit import AgentOutput

    gate = _gated_job(store, tmp_path)
    item = launch(store, "gated")
    app = make_app(run_agent=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await _running(pilot, app, store, item)
        with AgentOutput(db_path, None) as other:
            other.wait_for_line("serving all queues")
            await pilot.press("q")
            await settle(pilot, lambda: app._exit, "the app quitting")
            assert not isinstance(app.screen, QuitScreen)
            _release(gate)

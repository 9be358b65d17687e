"""The run log screen: a run's output.log shown by windows, followed live, searched, and the
keys still answered while a writer streams into a file of a million lines."""

import threading

import pytest
from helpers_tui import settle as until
from kit import launch, make_code_job, make_queue

from store import RunState
from store.runs import new_run_id
from tui.screens.run_log import RunLogScreen
from tui.screens.runs import RunsScreen
from tui.widgets.log_index import MAX_LINE_BYTES, LineIndex, clean_line, find_match, read_lines
from tui.widgets.log_view import LogView

SIZE = (120, 36)


def numbered(first: int, last: int) -> str:
    return "".join(f"line {i}\n" for i in range(first, last))


@pytest.fixture
def make_run(store, tmp_path):
    """make_run(state, log=None) → the id of a run in `state`, with `log` as its output.log
    (no file at all when None)."""
    make_code_job(store, tmp_path, "train", "print('hi')")
    queue = make_queue(store, "local")

    def make(state: RunState, log: str | None = None) -> str:
        launch(store, "train")
        item = store.items.lease_next(queue, "test-agent")
        run_id = new_run_id()
        assert store.items.claim_with_run(item, "test-agent", run_id, "local-process", {})
        if log is not None:
            write_log(store, run_id, log)
        if state is RunState.FAILED:
            store.runs.transition(run_id, state, "could not start", error_stage="agent")
        elif state is not RunState.STARTING:
            store.runs.transition(run_id, RunState.RUNNING)
            if state is not RunState.RUNNING:
                store.runs.transition(run_id, state, exit_code=0)
        return run_id

    return make


def write_log(store, run_id: str, text: str, mode: str = "w") -> None:
    folder = store.run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "output.log", mode) as f:
        f.write(text)


async def open_log(pilot, run_id: str) -> LogView:
    await pilot.app.push_screen(RunLogScreen(run_id))
    view = pilot.app.screen.query_one(LogView)
    await until(pilot, lambda: view.path is not None, "the run to be read")
    return view


async def shown(pilot, view: LogView) -> list[str]:
    """The lines in view, once they have been read."""
    await until(pilot, lambda: None not in view.visible_lines(), "the lines in view")
    return view.visible_lines()


def status(pilot) -> str:
    return str(pilot.app.screen.query_one("#log-status").render())


async def status_shows(pilot, *texts: str) -> None:
    """Wait for the status line to say each of `texts` (it is updated by coalesced messages)."""
    await until(pilot, lambda: all(t in status(pilot) for t in texts), f"status {texts}")


# -- opening ----------------------------------------------------------------------------------


async def test_l_on_a_finished_run_opens_its_log_at_the_last_lines(make_app, make_run):
    run_id = make_run(RunState.FINISHED, numbered(0, 100))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#runs-table")
        await until(pilot, lambda: table.current_row is not None, "the runs table")
        await pilot.press("l")
        assert isinstance(app.screen, RunLogScreen)
        view = app.screen.query_one(LogView)
        await until(pilot, lambda: view.ended and view.line_count == 100, "the whole log")
        lines = await shown(pilot, view)
        assert lines[-1] == "line 99"
        assert lines == [f"line {i}" for i in range(100 - len(lines), 100)]
        assert run_id in app.screen.sub_title and "finished" in app.screen.sub_title
        await status_shows(pilot, "100 lines", "run finished")

        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_g_goes_to_the_top_and_G_back_to_the_bottom(make_app, make_run):
    run_id = make_run(RunState.FINISHED, numbered(0, 1000))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_log(pilot, run_id)
        await until(pilot, lambda: view.line_count == 1000, "the whole log")

        await pilot.press("g")
        assert (await shown(pilot, view))[0] == "line 0"
        assert not view.follow

        await pilot.press("G")
        assert view.follow
        assert (await shown(pilot, view))[-1] == "line 999"


async def test_a_run_that_failed_before_starting_says_it_has_no_output(make_app, make_run):
    run_id = make_run(RunState.FAILED)  # no run folder, no log
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_log(pilot, run_id)
        await until(pilot, lambda: view.ended, "the view to give up")
        assert view.missing and view.line_count == 0
        assert "failed" in app.screen.sub_title and run_id in app.screen.sub_title
        await status_shows(pilot, "no output")


async def test_an_unknown_run_says_so(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(RunLogScreen("nosuchrun"))
        view = app.screen.query_one(LogView)
        await until(pilot, lambda: "nosuchrun" in view.message, "the message")
        assert view.path is None
        assert "not found" in app.screen.sub_title


# -- following ------------------------------------------------------------------------------


async def test_a_live_log_is_followed_and_f_stops_following(make_app, make_run, store):
    run_id = make_run(RunState.RUNNING, numbered(0, 10))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_log(pilot, run_id)
        await until(pilot, lambda: view.line_count == 10, "the first lines")
        assert view.follow and not view.ended

        write_log(store, run_id, numbered(10, 110), mode="a")
        await until(pilot, lambda: view.line_count == 110, "the appended lines")
        assert view.scroll_offset.y == view.max_scroll_y > 0
        assert (await shown(pilot, view))[-1] == "line 109"

        await pilot.press("f")
        assert not view.follow
        top = view.scroll_offset.y
        write_log(store, run_id, numbered(110, 210), mode="a")
        await until(pilot, lambda: view.line_count == 210, "more lines")
        assert view.scroll_offset.y == top
        assert (await shown(pilot, view))[-1] == "line 109"
        await status_shows(pilot, "follow off")

        await pilot.press("f")
        assert (await shown(pilot, view))[-1] == "line 209"


async def test_scrolling_up_stops_following(make_app, make_run):
    run_id = make_run(RunState.RUNNING, numbered(0, 500))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_log(pilot, run_id)
        await until(pilot, lambda: view.line_count == 500, "the log")
        await pilot.press("up")
        assert not view.follow
        assert view.scroll_offset.y == view.max_scroll_y - 1

        await pilot.press("G")
        assert view.follow
        view.scroll_relative(y=-5, animate=False)  # as the mouse wheel or the scrollbar does
        await pilot.pause()
        assert not view.follow


async def test_a_line_still_being_written_is_shown_and_updated(make_app, make_run, store):
    run_id = make_run(RunState.RUNNING, "epoch 1\nprogress 10%")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_log(pilot, run_id)
        await until(pilot, lambda: view.visible_lines()[-1:] == ["progress 10%"], "the tail")
        write_log(store, run_id, "\rprogress 90%", mode="a")
        await until(pilot, lambda: view.visible_lines()[-1:] == ["progress 90%"], "its redraw")
        assert view.line_count == 2


async def test_the_log_appears_when_a_waiting_run_writes_it(make_app, make_run, store):
    run_id = make_run(RunState.STARTING)  # not even its folder exists yet
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_log(pilot, run_id)
        await until(pilot, lambda: view.missing, "the first look")
        await status_shows(pilot, "waiting for output")

        write_log(store, run_id, numbered(0, 3))
        await until(pilot, lambda: view.line_count == 3, "the new log")
        assert await shown(pilot, view) == ["line 0", "line 1", "line 2"]


async def test_the_run_ending_ends_the_following(make_app, make_run, store):
    run_id = make_run(RunState.RUNNING, numbered(0, 5))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_log(pilot, run_id)
        await until(pilot, lambda: view.line_count == 5, "the log")
        assert not view.ended
        write_log(store, run_id, "last words", mode="a")  # no newline: still read at the end
        store.runs.transition(run_id, RunState.FINISHED, exit_code=0)
        await until(pilot, lambda: view.ended, "the end")
        assert view.line_count == 6
        # The title is set by the screen's own read of the run, on another thread than the
        # view's: it may come a moment after the view has ended.
        await until(pilot, lambda: "finished" in app.screen.sub_title, "the state in the title")


# -- search ---------------------------------------------------------------------------------


async def test_search_finds_a_line_far_down_and_shows_it(make_app, make_run):
    text = numbered(0, 150_000) + "the needle is HERE\n" + numbered(150_001, 200_000)
    run_id = make_run(RunState.FINISHED, text)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_log(pilot, run_id)
        await until(pilot, lambda: view.ended and view.line_count == 200_000, "the log")
        await pilot.press("n")  # nothing searched yet: nothing to find
        assert view.match_line is None
        await pilot.press("g", "slash", *"needle", "enter")
        await until(pilot, lambda: view.match_line is not None, "the search")
        assert view.match_line == 150_000
        assert "the needle is HERE" in await shown(pilot, view)
        await status_shows(pilot, "'needle' at line 150,001")

        await pilot.press("n")  # the only match: found again, round the end
        await until(pilot, lambda: "wrapped" in view.search_status, "the search again")
        assert view.match_line == 150_000

        await pilot.press("slash", *"Needle", "enter")  # capitals: case matters
        await until(pilot, lambda: "not found" in view.search_status, "the failed search")


# -- size and liveness ----------------------------------------------------------------------


async def test_a_million_lines_open_with_a_bounded_window_of_decoded_lines(make_app, make_run):
    run_id = make_run(RunState.FINISHED, numbered(0, 1_000_000))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_log(pilot, run_id)
        await until(pilot, lambda: view.ended and view.line_count == 1_000_000, "the index")
        await pilot.press("g")
        assert (await shown(pilot, view))[0] == "line 0"
        for _ in range(3):
            await pilot.press("pagedown")
        await shown(pilot, view)
        await pilot.press("G")
        assert (await shown(pilot, view))[-1] == "line 999999"
        assert view.cached_line_count <= view.max_cached_lines < 1000
        await status_shows(pilot, "1,000,000 lines")


async def test_keys_are_answered_while_a_writer_streams(make_app, make_run, store):
    run_id = make_run(RunState.RUNNING, numbered(0, 1000))
    path = store.run_dir(run_id) / "output.log"
    stop = threading.Event()

    def stream() -> None:
        with open(path, "a") as f:
            for batch in range(1000, 1_000_000, 1000):
                if stop.is_set():
                    return
                f.write(numbered(batch, batch + 1000))
                f.flush()

    writer = threading.Thread(target=stream, daemon=True)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_log(pilot, run_id)
        await until(pilot, lambda: view.line_count >= 1000, "the first lines")
        writer.start()
        try:
            await until(pilot, lambda: view.line_count > 1000, "the stream")
            await pilot.press("pageup")
            assert not view.follow
            top = view.scroll_offset.y
            await pilot.press("pageup")
            assert view.scroll_offset.y < top

            await pilot.press("G")
            assert view.follow
            assert view.scroll_offset.y == view.max_scroll_y
        finally:
            stop.set()
            writer.join()
        await until(pilot, lambda: view.line_count == view._index.counts()[1], "the last lines")
        assert view.scroll_offset.y == view.max_scroll_y


# -- the file reading, without the app ------------------------------------------------------


def test_the_index_counts_a_partial_last_line_and_gives_its_span():
    index = LineIndex()
    index.add(b"ab\ncd\nef")
    assert index.counts() == (0, 3, 2, 8)
    assert index.spans(0, 3, 8) == [(0, 3), (3, 6), (6, 8)]
    assert index.line_at(7) == 2 and index.start_of(1) == 3


def test_a_progress_bar_line_shows_its_last_state():
    assert clean_line(b"\rstep 1\rstep 2\r\n", 16) == "step 2"
    assert clean_line(b"a\tb\x07", 4) == "a       b"
    assert clean_line(b"abc", 10) == "abc … (7 more bytes)"


def test_a_redrawn_line_longer_than_the_cut_shows_its_last_state(tmp_path):
    # A tqdm bar or an image pull redrawn thousands of times: its last state is at its end.
    path = tmp_path / "output.log"
    redrawn = "".join(f"\rstep {i}" for i in range(5000)).encode()
    path.write_bytes(redrawn + b"\nplain\n")
    spans = [(0, len(redrawn) + 1), (len(redrawn) + 1, len(redrawn) + 7)]
    assert len(redrawn) > MAX_LINE_BYTES
    assert read_lines(path, spans) == ["step 4999", "plain"]
    # A long line whose last state is longer than the cut: its start, marked as cut.
    long_state = b"\r" + b"x" * (MAX_LINE_BYTES + 10)
    path.write_bytes(long_state + b"\n")
    shown = read_lines(path, [(0, len(long_state) + 1)])[0]
    assert shown == "x" * (MAX_LINE_BYTES - 1) + " … (12 more bytes)"


def test_search_finds_a_match_across_a_chunk_boundary(tmp_path, monkeypatch):
    monkeypatch.setattr("tui.widgets.log_index.CHUNK_BYTES", 16)
    path = tmp_path / "log"
    data = b"x" * 14 + b"needle" + b"y" * 40 + b"needle" + b"\n"
    path.write_bytes(data)
    never = lambda: False  # noqa: E731
    assert find_match(path, "needle", 0, len(data), False, never) == (14, False)
    assert find_match(path, "needle", 15, len(data), False, never) == (60, False)
    assert find_match(path, "needle", 61, len(data), False, never) == (14, True)
    assert find_match(path, "needle", 60, len(data), True, never) == (14, False)
    assert find_match(path, "needle", 10, len(data), True, never) == (60, True)
    assert find_match(path, "absent", 0, len(data), False, never) is None

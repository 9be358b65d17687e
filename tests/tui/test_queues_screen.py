"""The Queues screen: every key path checked against the store, and against what is shown."""

import pytest
from helpers_tui import answer_no, notified
from helpers_tui import settle as until
from kit import launch, make_code_job, make_queue
from textual.widgets import DataTable, Input, Select, Static, TextArea

from store import ItemState, Priority
from tui.screens.queue_form import QueueFormScreen
from tui.screens.queues import QueuesScreen

SIZE = (120, 36)


def refused(app) -> bool:
    """A save was refused: said in a notification titled 'not saved'."""
    return any(notification.title == "not saved" for notification in app._notifications)


def column(table: DataTable, name: str) -> list[str]:
    """The text of one column, top to bottom."""
    index = [str(c.label) for c in table.columns.values()].index(name)
    return [str(table.get_row_at(row)[index]) for row in range(table.row_count)]


def cell(table: DataTable, key: str, name: str) -> str:
    index = [str(c.label) for c in table.columns.values()].index(name)
    return str(table.get_row(key)[index])


@pytest.fixture
def items(store, tmp_path):
    """Queue `local` with two waiting items of job `train` (first high, then medium), and an
    empty queue `other`; returns the item ids."""
    make_code_job(store, tmp_path, "train", "print('hi')")
    make_queue(store, "local")
    make_queue(store, "other", max_concurrency=2)
    first = launch(store, "train", priority="high")
    second = launch(store, "train")
    return first, second


async def open_queues(pilot) -> QueuesScreen:
    await pilot.press("2")
    screen = pilot.app.screen
    assert isinstance(screen, QueuesScreen)
    await until(pilot, lambda: screen.view is not None, "the first read")
    return screen


def items_table(screen: QueuesScreen) -> DataTable:
    return screen.query_one("#items-table", DataTable)


def queues_table(screen: QueuesScreen) -> DataTable:
    return screen.query_one("#queues-table", DataTable)


async def test_shows_queues_with_counts_and_waiting_items_with_reasons(make_app, items):
    first, second = items
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_queues(pilot)
        table = queues_table(screen)
        assert column(table, "queue") == ["local", "other"]
        assert cell(table, "local", "pending") == "2"
        assert cell(table, "local", "state") == "active"
        assert cell(table, "other", "max") == "2"
        shown = items_table(screen)
        assert column(shown, "item") == [str(first), str(second)]  # dispatch order
        assert column(shown, "priority") == ["high", "medium"]
        assert column(shown, "job") == ["train:v0", "train:v0"]
        assert column(shown, "enqueued")[0].endswith(" ago")
        assert all(
            reason.startswith("no agent serving this queue")
            for reason in column(shown, "waiting because")
        )
        summary = str(screen.query_one("#queue-summary", Static).render())
        assert "local" in summary and "waiting items" in summary


async def test_moving_down_selects_the_next_queue_and_shows_its_items(make_app, items):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_queues(pilot)
        await pilot.press("down")
        await until(pilot, lambda: screen.view.selected.name == "other", "queue other")
        assert items_table(screen).row_count == 0
        await pilot.press("up")
        await until(pilot, lambda: items_table(screen).row_count == 2, "local's items")


async def test_p_pauses_then_resumes_and_the_reason_says_paused(make_app, items, store):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_queues(pilot)
        await pilot.press("p")
        await until(pilot, lambda: store.queues.get("local").paused, "queue paused in the store")
        await until(
            pilot,
            lambda: column(items_table(screen), "waiting because") == ["queue paused"] * 2,
            "the reason 'queue paused'",
        )
        assert cell(queues_table(screen), "local", "state") == "paused"
        await pilot.press("p")
        await until(pilot, lambda: not store.queues.get("local").paused, "queue resumed")
        await until(
            pilot, lambda: cell(queues_table(screen), "local", "state") == "active", "active"
        )


async def test_plus_and_minus_move_the_selected_items_priority(make_app, items, store):
    first, second = items
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_queues(pilot)
        await pilot.press("tab")
        assert items_table(screen).has_focus
        await pilot.press("down")  # the second item, medium
        await pilot.press("plus")
        await until(
            pilot, lambda: store.items.get(second).priority == Priority.HIGH, "second raised"
        )
        await until(
            pilot,
            lambda: column(items_table(screen), "priority") == ["high", "high"],
            "the new priority shown",
        )
        await pilot.press("minus")
        await pilot.press("minus")
        await until(pilot, lambda: store.items.get(second).priority == Priority.LOW, "lowered")
        assert store.items.get(first).priority == Priority.HIGH


async def test_priority_stops_at_the_ends_with_a_notification(make_app, items, store):
    first, _ = items
    store.items.set_priority(first, Priority.CRITICAL)
    async with make_app().run_test(size=SIZE) as pilot:
        await open_queues(pilot)
        await pilot.press("plus")
        await until(
            pilot,
            lambda: any("already critical" in text for text in notified(pilot.app)),
            "the notification",
        )
        assert store.items.get(first).priority == Priority.CRITICAL


async def test_ctrl_k_then_y_cancels_the_selected_item(make_app, items, store):
    first, second = items
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_queues(pilot)
        await pilot.press("ctrl+k")
        await pilot.press("y")
        await until(pilot, lambda: store.items.get(first).state == ItemState.CANCELLED, "cancelled")
        await until(
            pilot, lambda: column(items_table(screen), "item") == [str(second)], "item gone"
        )
        assert store.items.get(second).state == ItemState.PENDING


async def test_ctrl_k_then_n_keeps_the_item(make_app, items, store):
    first, _ = items
    async with make_app().run_test(size=SIZE) as pilot:
        await open_queues(pilot)
        await pilot.press("ctrl+k")
        await answer_no(pilot)
        assert store.items.get(first).state == ItemState.PENDING


async def fill_form(
    pilot, name: str, config: str, max_concurrency: str = "", *, type_config: bool = True
) -> QueueFormScreen:
    """n, then the name and max concurrency typed, the resource picked, and the config typed
    key by key (or, with type_config=False, put in at once: typing is slow under Pilot)."""
    await pilot.press("n")
    form = pilot.app.screen
    assert isinstance(form, QueueFormScreen)
    await pilot.pause()
    await pilot.click("#queue-name")
    await pilot.press(*name)
    select = form.query_one("#queue-resource", Select)
    select.focus()
    await pilot.press("enter")  # opens the list
    await pilot.press("enter")  # picks local-process
    await pilot.pause()
    assert select.value == "local-process"
    if max_concurrency:
        form.query_one("#queue-max", Input).focus()
        await pilot.press(*max_concurrency)
    area = form.query_one("#queue-config", TextArea)
    area.focus()
    if type_config:
        await pilot.press(*("enter" if char == "\n" else char for char in config))
    else:
        area.text = config
    return form


def check_line(form: QueueFormScreen) -> str:
    return str(form.query_one("#queue-config-check", Static).render())


async def test_n_creates_a_queue_with_exactly_the_typed_config(make_app, items, store):
    yaml_text = "resource_args:\n  env: {A: '1'}\n  stop_grace_seconds: 3"
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_queues(pilot)
        form = await fill_form(pilot, "gpu", yaml_text, max_concurrency="4")
        assert form.query_one("#queue-config", TextArea).text == yaml_text
        await until(pilot, lambda: check_line(form) == "✓ valid", "the check")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: pilot.app.screen is screen, "the form closed")
        queue = store.queues.get("gpu")
        assert queue.resource == "local-process"
        assert queue.max_concurrency == 4
        assert queue.config == {
            "resource_args": {"env": {"A": "1"}, "stop_grace_seconds": 3},
            "template_variables": {},
        }
        await until(pilot, lambda: screen.view.selected.name == "gpu", "the new queue selected")
        assert "gpu" in column(queues_table(screen), "queue")


@pytest.mark.parametrize(
    ("yaml_text", "error"),
    [
        ("resource_args: [unclosed", "malformed YAML"),
        ("resource_args:\n  privileged: true", "resource_args.privileged: unknown key"),
        ("resources: {}", "resources: unknown key"),
    ],
)
async def test_n_with_a_bad_config_shows_the_error_and_creates_nothing(
    make_app, items, store, yaml_text, error
):
    async with make_app().run_test(size=SIZE) as pilot:
        await open_queues(pilot)
        form = await fill_form(pilot, "bad", yaml_text, type_config=False)
        await until(pilot, lambda: error in check_line(form), f"the error {error!r}")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: refused(pilot.app), "the refusal")
        assert pilot.app.screen is form  # refused: still open
        assert error in check_line(form)
        assert [q.name for q in store.queues.list()] == ["local", "other"]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, QueuesScreen), "form closed")
    assert [q.name for q in store.queues.list()] == ["local", "other"]


async def test_n_with_a_taken_name_refuses(make_app, items, store):
    async with make_app().run_test(size=SIZE) as pilot:
        await open_queues(pilot)
        form = await fill_form(pilot, "local", "")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "already exists" in check_line(form), "the refusal")
        assert pilot.app.screen is form
        assert store.queues.get("local").config == {"resource_args": {}, "template_variables": {}}


async def test_e_edits_the_selected_queues_config(make_app, items, store):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_queues(pilot)
        await pilot.press("e")
        form = pilot.app.screen
        assert isinstance(form, QueueFormScreen)
        assert form.query_one("#queue-name", Input).disabled
        area = form.query_one("#queue-config", TextArea)
        assert "resource_args" in area.text
        area.text = "resource_args:\n  cwd: sub\n"
        form.query_one("#queue-max", Input).value = "3"
        await until(pilot, lambda: check_line(form) == "✓ valid", "the check")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: pilot.app.screen is screen, "the form closed")
        queue = store.queues.get("local")
        assert queue.config == {"resource_args": {"cwd": "sub"}, "template_variables": {}}
        assert queue.max_concurrency == 3
        await until(
            pilot,
            lambda: "cwd" in str(screen.query_one("#queue-summary", Static).render()),
            "the new config shown",
        )


async def test_e_with_an_invalid_config_saves_nothing(make_app, items, store):
    async with make_app().run_test(size=SIZE) as pilot:
        await open_queues(pilot)
        await pilot.press("e")
        form = pilot.app.screen
        form.query_one("#queue-config", TextArea).text = "resource_args:\n  cwd: /etc\n"
        await until(pilot, lambda: "resource_args.cwd" in check_line(form), "the error")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: refused(pilot.app), "the refusal")
        assert pilot.app.screen is form
        assert store.queues.get("local").config["resource_args"] == {}


async def test_select_message_selects_that_queue(make_app, items):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_queues(pilot)
        screen.post_message(QueuesScreen.Select("other"))
        await until(pilot, lambda: screen.view.selected.name == "other", "queue other")
        table = queues_table(screen)
        assert table.ordered_rows[table.cursor_row].key.value == "other"


async def test_goto_q_name_selects_that_queue_from_another_screen(make_app, items):
    async with make_app().run_test(size=SIZE) as pilot:
        pilot.app.goto(":q other")
        await until(pilot, lambda: isinstance(pilot.app.screen, QueuesScreen), "queues shown")
        screen = pilot.app.screen
        await until(
            pilot,
            lambda: screen.view is not None and screen.view.selected.name == "other",
            "queue other",
        )
        table = queues_table(screen)
        assert table.ordered_rows[table.cursor_row].key.value == "other"


async def test_select_of_an_unknown_queue_says_so(make_app, items):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_queues(pilot)
        screen.post_message(QueuesScreen.Select("nope"))
        await until(
            pilot,
            lambda: any("no queue named 'nope'" in text for text in notified(pilot.app)),
            "the notification",
        )
        assert screen.view.selected.name == "local"


async def test_a_change_by_another_connection_is_shown(make_app, items, store):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_queues(pilot)
        launch(store, "train", priority="low")
        await until(pilot, lambda: items_table(screen).row_count == 3, "the new item")


async def test_no_queues_says_how_to_make_one(make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_queues(pilot)
        status = str(screen.query_one("#queues-status", Static).render())
        assert "press n" in status
        await pilot.press("p")
        await pilot.press("plus")
        await until(
            pilot,
            lambda: (
                {"no queue selected: press n to create one", "no waiting item selected"}
                <= set(notified(pilot.app))
            ),
            "both told",
        )
        assert pilot.app.screen is screen  # nothing to act on: told, not crashed

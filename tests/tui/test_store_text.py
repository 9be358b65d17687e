"""Text from the store, a job or a backend shows as it is: never read as markup (issue 11.22)."""

from fixed_data import seed
from helpers_tui import screen_text, settle
from kit import launch

from runners.catalog.jobs import create_job
from store import RunState
from tui.screens.run_detail import RunDetailScreen

HOSTILE = "[/x] boom [b]not bold[/b]"


def failed_run(store, run_id: str, stage: str, message: str) -> None:
    """A run of `train` on `cpu` that failed at `stage` with `message`."""
    item_id = launch(store, "train", "cpu")
    item = store.items.lease_next(store.queues.get("cpu"), "test-agent")
    assert item.id == item_id
    store.items.claim_with_run(item, "test-agent", run_id, "local-process", {"env": {}})
    store.runs.transition(run_id, RunState.RUNNING, "submitted [started]")
    store.runs.transition(
        run_id, RunState.FAILED, message, exit_code=3, error_stage=stage, error_message=message
    )


def _worker_errors(app) -> list:
    return [w.error for w in app.workers if w.error is not None]


async def test_run_detail_shows_the_error_stage_and_a_message_with_brackets(
    make_app, store, tmp_path
):
    seed(store, tmp_path)
    failed_run(store, "brk7run1", "run", HOSTILE)
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        app.push_screen(RunDetailScreen("brk7run1"))
        screen = await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen)
        await settle(pilot, lambda: screen.run is not None, "the run loaded")
        await settle(pilot, lambda: f"[run] {HOSTILE}" in screen_text(app), "the error line")
        text = screen_text(app)
        assert "submitted [started]" in text  # an event's message, as it is
        assert not _worker_errors(app)


async def test_the_seeded_failed_run_shows_its_stage(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        app.push_screen(RunDetailScreen("c2vb8rte"))
        screen = await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen)
        await settle(pilot, lambda: screen.run is not None, "the run loaded")
        await settle(
            pilot, lambda: "[run] exited with code 3" in screen_text(app), "the stage shown"
        )


async def test_jobs_screen_shows_a_description_with_brackets(make_app, store, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.py").write_text("print(1)\n")
    create_job(store, "code", "brackets", str(src), description=HOSTILE)
    app = make_app()
    async with app.run_test(size=(160, 36)) as pilot:
        await pilot.press("3")
        await settle(pilot, lambda: HOSTILE in screen_text(app), "the description, verbatim")
        assert not _worker_errors(app)


async def test_the_launch_form_shows_schema_text_with_brackets(make_app, store, tmp_path):
    import json

    from kit import make_code_job, make_queue

    from tui.screens.launch import LaunchScreen

    schema = {
        "type": "object",
        "properties": {
            "[/x]mode": {"type": "string", "enum": ["[/x]", "[b]plain"], "description": HOSTILE},
        },
    }
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    make_code_job(store, tmp_path, "train", "print(1)", schema_path=str(tmp_path / "schema.json"))
    make_queue(store, "local")
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        app.push_screen(LaunchScreen(job="train", queue="local"))
        screen = await settle(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen)
        await settle(pilot, lambda: len(screen.query("SchemaField")) == 1, "the field")
        await settle(pilot, lambda: screen.form_error is None, "a valid form")
        field = screen.query_one("SchemaField")
        assert str(field.query_one("Label").render()) == "[/x]mode"
        assert HOSTILE in str(field.query_one(".field-hint").render())
        field.query_one("#value").value = 0
        preview = screen.query_one("#launch-preview")
        await settle(pilot, lambda: '"[/x]mode": "[/x]"' in str(preview.render()), "the preview")
        assert not _worker_errors(app)


async def test_the_runs_status_shows_a_filter_with_half_a_tag(make_app, store, tmp_path):
    seed(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one("#runs-table")
        await settle(pilot, lambda: table.row_at(0) is not None, "the runs read")
        await pilot.press("slash")
        app.screen.query_one("#runs-filter").value = "oops [/"
        status = app.screen.query_one("#runs-status")
        await settle(pilot, lambda: "matching oops [/" in str(status.render()), "the status")
        assert app.is_running


async def test_the_queue_summary_and_editor_show_a_config_with_half_a_tag(make_app, store):
    from kit import make_queue
    from textual.widgets import TextArea

    make_queue(store, "local", config={"resource_args": {"env": {"MODE": "x[/ a[b"}}})
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot, lambda: app.screen.query("#queue-summary"), "the queues screen")
        summary = app.screen.query_one("#queue-summary")
        await settle(pilot, lambda: "x[/ a[b" in str(summary.render()), "the config shown")
        await pilot.press("e")
        await settle(pilot, lambda: app.screen.query("#queue-config"), "the editor")
        area = app.screen.query_one("#queue-config", TextArea)
        area.text = "resource_args:\n  env: {MODE: 'x[/'}\n  bogus[/: 1\n"
        check = app.screen.query_one("#queue-config-check")
        await settle(pilot, lambda: "bogus[/" in str(check.render()), "the error, as typed")
        assert app.is_running and not _worker_errors(app)

"""The launch form: fields from the schema and template variables, live checks, preview, enqueue."""

import json
import os
import stat
import sys
import threading

from helpers_tui import notified, press_when_loaded, settle
from kit import make_code_job, make_queue

from runners.launch.request import LaunchRequest, enqueue, prepare_launch
from store import ItemState, Priority
from tui.screens.launch import LaunchScreen

SCHEMA = {
    "type": "object",
    "properties": {
        "lr": {"type": "number", "default": 0.1, "minimum": 0, "maximum": 1},
        "epochs": {"type": "integer", "default": 3, "minimum": 1, "maximum": 100},
        "optimizer": {"type": "string", "enum": ["adam", "sgd"], "default": "adam"},
        "fast": {"type": "boolean", "default": False},
    },
}
QUEUE_CONFIG = {
    "resource_args": {"env": {"THREADS": "{{threads}}"}},
    "template_variables": {
        "threads": {"type": "integer", "minimum": 1, "maximum": 8, "default": 2}
    },
}


def _setup(store, tmp_path):
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    make_code_job(store, tmp_path, "train", "print('hi')", schema_path=str(schema_file))
    make_queue(store, "gpu", config=QUEUE_CONFIG)


async def _open_form(app, pilot, **kwargs) -> LaunchScreen:
    await pilot.pause()
    app.push_screen(LaunchScreen(**kwargs))
    screen = await settle(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen)
    # The five fields exist before they are all mounted: wait for the rebuild to finish and a
    # preview of what they hold.
    await settle(
        pilot,
        lambda: (
            len(screen.query("SchemaField")) == 5
            and not screen._rebuilding.locked()
            and str(screen.query_one("#launch-preview").render())
        ),
        "the generated fields and their preview",
    )
    return screen


def items_enqueued(store) -> int:
    return store.conn.execute("SELECT COUNT(*) FROM queue_items").fetchone()[0]


async def _type_into(pilot, screen, selector: str, text: str) -> None:
    box = screen.query_one(selector)
    box.focus()
    box.value = ""
    await pilot.press(*text)


async def test_the_form_is_generated_from_schema_and_variables(make_app, store, tmp_path):
    _setup(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open_form(app, pilot, job="train", queue="gpu")
        ids = sorted(f.id for f in screen.query("SchemaField"))
        assert ids == [
            "field-run_config-epochs",
            "field-run_config-fast",
            "field-run_config-lr",
            "field-run_config-optimizer",
            "field-var-threads",
        ]
        hint = str(screen.query_one("#field-run_config-epochs .field-hint").render())
        assert "1…100" in hint and "default 3" in hint
        assert type(screen.query_one("#field-run_config-optimizer #value")).__name__ == "Select"
        await settle(pilot, lambda: screen.form_error is None, "a valid form")
        preview = str(screen.query_one("#launch-preview").render())
        assert '"THREADS": "2"' in preview and '"epochs": 3' in preview


async def test_enqueue_creates_an_item_with_exactly_the_overrides_typed(make_app, store, tmp_path):
    _setup(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open_form(app, pilot, job="train", queue="gpu")
        await _type_into(pilot, screen, "#field-run_config-epochs #value", "7")
        await _type_into(pilot, screen, "#field-var-threads #value", "4")
        await _type_into(pilot, screen, "#launch-args", "--name 'a b'")
        screen.query_one("#launch-priority").value = "high"
        await settle(
            pilot,
            lambda: (
                screen.form_error is None
                and '"epochs": 7' in str(screen.query_one("#launch-preview").render())
            ),
            "the preview to follow",
        )
        assert '"THREADS": "4"' in str(screen.query_one("#launch-preview").render())
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: not isinstance(app.screen, LaunchScreen), "enqueued")
    item = store.items.get(store.conn.execute("SELECT MAX(id) FROM queue_items").fetchone()[0])
    assert item.state is ItemState.PENDING and item.priority is Priority.HIGH
    assert item.launch["run_config"] == {"lr": 0.1, "epochs": 7, "optimizer": "adam", "fast": False}
    assert item.launch["args"] == ["--name", "a b"]
    assert item.launch["template_variables"] == {"threads": 4}
    assert item.launch["resource_args"]["env"] == {"THREADS": "4"}


async def test_a_bad_field_is_marked_and_enqueue_is_refused(make_app, store, tmp_path):
    _setup(store, tmp_path)
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open_form(app, pilot, job="train", queue="gpu")
        await _type_into(pilot, screen, "#field-run_config-epochs #value", "500")
        field = screen.query_one("#field-run_config-epochs")
        await settle(pilot, lambda: field.has_class("-invalid"), "the field marked")
        assert field.error == "run_config.epochs: expected an integer between 1 and 100, got 500"
        await _type_into(pilot, screen, "#field-var-threads #value", "x")
        threads = screen.query_one("#field-var-threads")
        await settle(
            pilot,
            lambda: (threads.error or "").endswith("expected an integer between 1 and 8, got 'x'"),
            "threads marked",
        )
        await pilot.press("ctrl+s")
        await settle(
            pilot, lambda: any("not enqueued" in text for text in notified(app)), "the refusal"
        )
        assert isinstance(app.screen, LaunchScreen)
    assert items_enqueued(store) == 0


async def test_ctrl_s_twice_enqueues_once(make_app, store, tmp_path, monkeypatch):
    _setup(store, tmp_path)
    from runners.launch import request as launching

    release = threading.Event()
    real_enqueue = launching.enqueue

    def slow_enqueue(*args, **kwargs):
        release.wait(10)  # held until the second ctrl+s is in, as on a slow machine
        return real_enqueue(*args, **kwargs)

    monkeypatch.setattr(launching, "enqueue", slow_enqueue)
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open_form(app, pilot, job="train", queue="gpu")
        await settle(pilot, lambda: screen.form_error is None, "a valid form")
        await pilot.press("ctrl+s", "ctrl+s")
        release.set()
        await settle(pilot, lambda: not isinstance(app.screen, LaunchScreen), "enqueued")
        await settle(pilot, lambda: not any(w.group == "enqueue" for w in app.workers), "done")
    assert items_enqueued(store) == 1


def _run_of(store, request: LaunchRequest, run_id: str) -> None:
    """The launch of `request` enqueued and claimed as run `run_id`, to be relaunched."""
    from runners.launch.rendering import render_spec

    item_id = enqueue(store, prepare_launch(store, request))
    item = store.items.lease_next(store.queues.get("gpu"), "t")
    spec = render_spec(
        job=store.jobs.resolve("train"),
        queue="gpu",
        resource="local-process",
        launch=item.launch,
        run_id=run_id,
        item_id=item_id,
        config_file="/x/config.json",
        environ={},
    )
    store.items.claim_with_run(item, "t", run_id, "local-process", spec)


async def test_relaunch_is_prefilled_and_previews_the_diff(make_app, store, tmp_path):
    _setup(store, tmp_path)
    request = LaunchRequest(
        job="train",
        queue="gpu",
        set_vars=["threads=3"],
        spec={"overrides": {"run_config": {"epochs": 9}}},
    )
    _run_of(store, request, "rprev001")
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open_form(app, pilot, relaunch_of="rprev001")
        assert not screen.query_one("#launch-retry").has_class("-carried")  # none of its own
        await settle(
            pilot,
            lambda: (
                screen.query_one("#field-run_config-epochs #value").value == "9"
                and screen.query_one("#field-var-threads #value").value == "3"
            ),
            "the previous run's values",
        )
        await settle(
            pilot,
            lambda: "same spec" in str(screen.query_one("#launch-preview").render()),
            "an empty diff",
        )
        await _type_into(pilot, screen, "#field-run_config-epochs #value", "10")
        await settle(
            pilot,
            lambda: '+    "epochs": 10' in str(screen.query_one("#launch-preview").render()),
            "the diff",
        )
        assert '-    "epochs": 9' in str(screen.query_one("#launch-preview").render())


async def test_relaunch_carries_the_launchs_own_retry_policy_and_says_so(make_app, store, tmp_path):
    _setup(store, tmp_path)
    policy = {"on": ["failed"], "max": 2, "backoff_seconds": 5}
    _run_of(store, LaunchRequest(job="train", queue="gpu", spec={"retry": policy}), "rprev002")
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open_form(app, pilot, relaunch_of="rprev002")
        line = screen.query_one("#launch-retry")
        await settle(pilot, lambda: line.has_class("-carried"), "the carried policy shown")
        assert str(line.render()) == (
            "retry: on failed · max 2 · backoff 5s (carried from run rprev002; ctrl+e)"
        )
        await settle(pilot, lambda: screen.form_error is None, "a valid form")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: not isinstance(app.screen, LaunchScreen), "enqueued")
    relaunched = store.items.get(2).launch
    assert relaunched["retry"] == relaunched["retry_override"] == {**policy, "backoff_seconds": 5.0}


async def test_ctrl_e_edits_the_overrides_as_yaml_in_the_editor(
    make_app, store, tmp_path, monkeypatch
):
    _setup(store, tmp_path)
    editor = tmp_path / "editor.py"
    editor.write_text(
        f"#!{sys.executable}\nimport sys, yaml\npath = sys.argv[1]\n"
        "doc = yaml.safe_load(open(path))\n"
        "doc['overrides']['run_config']['lr'] = 0.5\n"
        "doc['overrides']['args'] = ['--from-editor']\n"
        "yaml.safe_dump(doc, open(path, 'w'))\n"
    )
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open_form(app, pilot, job="train", queue="gpu")
        await press_when_loaded(pilot, screen, "ctrl+e")
        await settle(
            pilot,
            lambda: screen.query_one("#launch-args").value == "--from-editor",
            "the editor's changes applied",
        )
        assert screen.query_one("#field-run_config-lr #value").value == "0.5"
        await settle(pilot, lambda: screen.form_error is None, "a valid form")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: not isinstance(app.screen, LaunchScreen), "enqueued")
    item = store.items.get(1)
    assert item.launch["run_config"]["lr"] == 0.5 and item.launch["args"] == ["--from-editor"]
    assert os.environ["EDITOR"] == str(editor)


async def test_a_retry_policy_given_in_the_yaml_is_shown_and_enqueued(
    make_app, store, tmp_path, monkeypatch
):
    _setup(store, tmp_path)
    editor = tmp_path / "editor.py"
    editor.write_text(
        f"#!{sys.executable}\nimport sys, yaml\npath = sys.argv[1]\n"
        "doc = yaml.safe_load(open(path))\ndoc['retry'] = {'max': 1}\n"
        "yaml.safe_dump(doc, open(path, 'w'))\n"
    )
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open_form(app, pilot, job="train", queue="gpu")
        await press_when_loaded(pilot, screen, "ctrl+e")
        line = screen.query_one("#launch-retry")
        await settle(pilot, lambda: line.has_class("-carried"), "the policy shown")
        assert "max 1 · backoff 30s (from the YAML; ctrl+e)" in str(line.render())
        await settle(pilot, lambda: screen.form_error is None, "a valid form")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: not isinstance(app.screen, LaunchScreen), "enqueued")
    assert store.items.get(1).launch["retry"]["max"] == 1


def test_the_relaunch_diff_does_not_count_the_run_id_inside_values_as_a_change():
    from tui.screens.launch_diff import _normalised

    def spec(run_id: str) -> dict:
        return {
            "run_id": run_id,
            "args": ["--out", f"/data/{run_id}/ckpt"],
            "env": {"WANDB_RUN_ID": run_id, "LAUNCHBAY_RUN_ID": run_id},
            "run_config": {"lr": 0.1},
        }

    assert _normalised(spec("rprev001")) == _normalised(spec("dryrun00"))
    changed = spec("dryrun00") | {"run_config": {"lr": 0.2}}
    assert _normalised(spec("rprev001")) != _normalised(changed)


async def test_ctrl_s_goes_to_what_the_item_waits_for_then_its_run_then_its_log(
    make_app, store, tmp_path
):
    from store import RunState
    from tui.config import UserConfig
    from tui.screens.launched import LaunchedItemScreen
    from tui.screens.run_detail import RunDetailScreen
    from tui.screens.run_log import RunLogScreen

    _setup(store, tmp_path)
    app = make_app(config=UserConfig())  # the default: on to the new run
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_form(app, pilot, job="train", queue="gpu")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: isinstance(app.screen, LaunchedItemScreen), "the item")
        waiting = app.screen
        await settle(pilot, lambda: "waits on queue gpu" in waiting.line, "why it waits")
        assert "no agent" in waiting.line  # this app runs none; nothing else serves the queue
        # An agent elsewhere claims it: the run's detail takes the item's place …
        item = store.items.lease_next(store.queues.get("gpu"), "elsewhere")
        assert store.items.claim_with_run(item, "elsewhere", "newrun01", "local-process", {})
        await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen), "the run")
        assert app.screen.run_id == "newrun01" and app.current_mode == "runs"
        # … and once it starts, its log opens.
        store.runs.transition("newrun01", RunState.RUNNING, "submitted", handle={"pid": 1})
        await settle(pilot, lambda: isinstance(app.screen, RunLogScreen), "the run's log")
        await pilot.press("escape", "escape")
        await settle(pilot, lambda: type(app.screen).__name__ == "RunsScreen", "the runs list")
        await settle(pilot, lambda: app.screen.query("HeaderTitle"), "drawn, before the app ends")

    back = make_app(config=UserConfig(after_launch="back"))
    async with back.run_test(size=(120, 40)) as pilot:
        opened_from = back.screen
        await _open_form(back, pilot, job="train", queue="gpu")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: back.screen is opened_from, "back where it was")

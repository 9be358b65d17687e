"""The launch form's edges: any property name, a load that fails, secrets in the preview and in
the $EDITOR round trip, bad YAML from the editor (issue 11 points 23, 26, 28, 33)."""

import json
import stat
import sys

from helpers_tui import notified, press_when_loaded, settle
from kit import make_code_job, make_queue

from store import Store
from tui.screens.launch import LaunchScreen
from tui.screens.launch_fields import field_id

WANDB = "wk-live-5ecret-value"
X_TOKEN = "tok-abcdef-123456"


async def _open(app, pilot, fields: int, **kwargs) -> LaunchScreen:
    await pilot.pause()
    app.push_screen(LaunchScreen(**kwargs))
    screen = await settle(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen)
    await settle(
        pilot,
        lambda: (
            screen.query("#launch-job")
            and screen.query_one("#launch-job").suggester is not None  # the choices loaded
            and len(screen.query("SchemaField")) == fields
            and not screen._rebuilding.locked()
            and _preview(screen)
        ),
        "the generated fields and their preview",
    )
    return screen


def _shown(screen, selector: str) -> str:
    """What a Static shows; "" until the screen is composed."""
    found = screen.query(selector)
    return str(found.first().render()) if found else ""


def _preview(screen) -> str:
    return _shown(screen, "#launch-preview")


def _banner(screen) -> str:
    return _shown(screen, "#launch-error")


def _last_item(store: Store):
    return store.items.get(store.conn.execute("SELECT MAX(id) FROM queue_items").fetchone()[0])


async def _enqueue(pilot, screen) -> None:
    app = pilot.app
    await settle(
        pilot, lambda: screen.form_error is None and not screen._rebuilding.locked(), "ready"
    )
    await press_when_loaded(pilot, screen, "ctrl+s")
    await settle(
        pilot,
        lambda: not screen.is_attached or any("not enqueued" in n for n in notified(app)),
        "enqueued",
    )
    assert not screen.is_attached, notified(app)


async def test_a_property_named_with_a_dot_gets_a_field_and_its_value_its_key(
    make_app, store, tmp_path
):
    schema = {
        "type": "object",
        "properties": {
            "lr.decay": {"type": "number", "default": 0.9},
            "batch size": {"type": "integer", "default": 8},
            "lr-decay": {"type": "number", "default": 0.5},  # must not share lr.decay's id
        },
    }
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    make_code_job(store, tmp_path, "train", "print(1)", schema_path=str(tmp_path / "schema.json"))
    make_queue(store, "local")
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open(app, pilot, 3, job="train", queue="local")
        ids = {field.field_name: field.id for field in screen.query("SchemaField")}
        assert len(set(ids.values())) == 3
        box = screen.query_one(f"#{field_id('run_config', 'lr.decay')} #value")
        box.focus()
        box.value = ""
        await pilot.press(*"0.25")
        await settle(pilot, lambda: '"lr.decay": 0.25' in _preview(screen), "the preview")
        await _enqueue(pilot, screen)
    assert _last_item(store).launch["run_config"] == {
        "lr.decay": 0.25,
        "batch size": 8,
        "lr-decay": 0.5,
    }


async def test_relaunching_a_run_that_is_gone_says_so_instead_of_loading(make_app, store):
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        app.push_screen(LaunchScreen(relaunch_of="gone1234"))
        screen = await settle(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen)
        await settle(pilot, lambda: "gone1234" in _banner(screen), "the failure shown")
        assert "no run" in _banner(screen) and "loading" not in (screen.form_error or "")
        await pilot.press("ctrl+s")
        assert store.conn.execute("SELECT COUNT(*) FROM queue_items").fetchone()[0] == 0


async def test_the_preview_hides_an_env_secret_and_enqueue_keeps_it(make_app, store, tmp_path):
    make_code_job(store, tmp_path, "train", "print(1)")
    make_queue(store, "local", config={"resource_args": {"env": {"WANDB_API_KEY": WANDB}}})
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open(app, pilot, 0, job="train", queue="local")
        await settle(pilot, lambda: '"WANDB_API_KEY": "***"' in _preview(screen), "hidden")
        assert WANDB not in _preview(screen)
        await _enqueue(pilot, screen)
    spec = _preview_spec_of(store, _last_item(store))
    assert WANDB in json.dumps(spec)  # hidden on the screen only: the runner gets it


def _preview_spec_of(store, item) -> dict:
    from runners.launch.request import LaunchRequest, prepare_launch, preview

    request = LaunchRequest(job=item.job, queue="local", spec={"overrides": {}})
    return preview(store, prepare_launch(store, request))


async def test_the_preview_hides_a_kubernetes_name_value_secret(make_app, store):
    from runners.catalog.jobs import create_job
    from runners.catalog.queues import check_queue_config

    container = {"name": "main", "env": [{"name": "X_TOKEN", "value": X_TOKEN}]}
    config = {
        "resource_args": {"spec": {"template": {"spec": {"containers": [container]}}}},
        "target": {"kubeconfig": "/nonexistent/kubeconfig"},
    }
    store.queues.create("k8s", "kubernetes", check_queue_config("kubernetes", config))
    create_job(store, "image", "img", "busybox:latest", entrypoint="echo hi")
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open(app, pilot, 0, job="img", queue="k8s")
        await settle(pilot, lambda: '"X_TOKEN"' in _preview(screen), "the container's env")
        assert X_TOKEN not in _preview(screen) and '"***"' in _preview(screen)


def _editor(tmp_path, monkeypatch, body: str):
    """$EDITOR set to a small script: it copies what it was given to seen.yaml, then runs
    `body` (Python, with `path` the file and `yaml` imported) to write the file."""
    script = tmp_path / "editor.py"
    script.write_text(
        f"#!{sys.executable}\nimport shutil, sys, yaml\npath = sys.argv[1]\n"
        f"shutil.copy(path, {str(tmp_path / 'seen.yaml')!r})\n" + body
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("EDITOR", str(script))
    monkeypatch.delenv("VISUAL", raising=False)
    return tmp_path / "seen.yaml"


async def test_editor_round_trip_hides_secrets_and_keeps_them_on_save(
    make_app, store, tmp_path, monkeypatch
):
    make_code_job(store, tmp_path, "train", "print(1)")
    make_queue(store, "local")
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open(app, pilot, 0, job="train", queue="local")
        # First round: the editor adds a secret env var and an arg.
        _editor(
            tmp_path,
            monkeypatch,
            "doc = yaml.safe_load(open(path))\n"
            f"doc['resource_args'] = {{'env': {{'WANDB_API_KEY': {WANDB!r}}}}}\n"
            "doc['overrides']['args'] = ['--first']\n"
            "yaml.safe_dump(doc, open(path, 'w'))\n",
        )
        await press_when_loaded(pilot, screen, "ctrl+e")
        await settle(pilot, lambda: screen.query_one("#launch-args").value == "--first", "1st")
        # Second round: the editor sees *** and changes only the args.
        seen = _editor(
            tmp_path,
            monkeypatch,
            "doc = yaml.safe_load(open(path))\n"
            "doc['overrides']['args'] = ['--second']\n"
            "yaml.safe_dump(doc, open(path, 'w'))\n",
        )
        await press_when_loaded(pilot, screen, "ctrl+e")
        await settle(pilot, lambda: screen.query_one("#launch-args").value == "--second", "2nd")
        assert WANDB not in seen.read_text()
        assert "WANDB_API_KEY: '***'" in seen.read_text()
        await settle(pilot, lambda: "WANDB_API_KEY" in _preview(screen), "the env previewed")
        assert WANDB not in _preview(screen)
        await _enqueue(pilot, screen)
    item = _last_item(store)
    assert item.launch["resource_args_override"]["env"] == {"WANDB_API_KEY": WANDB}
    assert item.launch["args"] == ["--second"]


async def test_editor_bad_yaml_is_refused_with_a_line_and_the_form_kept(
    make_app, store, tmp_path, monkeypatch
):
    make_code_job(store, tmp_path, "train", "print(1)")
    make_queue(store, "local")
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open(app, pilot, 0, job="train", queue="local")
        screen.query_one("#launch-args").value = "--kept"
        _editor(tmp_path, monkeypatch, "open(path, 'w').write('overrides: [unclosed\\n')\n")
        await press_when_loaded(pilot, screen, "ctrl+e")
        await settle(
            pilot,
            lambda: any("YAML not applied" in text for text in notified(app)),
            "the refusal",
            tries=1200,  # the editor is a process: up to a minute on a loaded machine
        )
        refusal = next(text for text in notified(app) if "YAML not applied" in text)
        assert "malformed YAML" in refusal and "line" in refusal
        assert screen.query_one("#launch-args").value == "--kept"
        await _enqueue(pilot, screen)
    assert _last_item(store).launch["args"] == ["--kept"]

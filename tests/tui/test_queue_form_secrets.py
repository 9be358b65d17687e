"""The queue editor shows a queue's config without its secrets, and saving it keeps them
(issue 11.28)."""

from helpers_tui import settle
from kit import make_queue
from textual.widgets import Static, TextArea

from tui.screens.queue_form import QueueFormScreen

WANDB = "wk-live-5ecret-value"
DB_PASSWORD = "pw-hunter2-hunter2"
X_TOKEN = "tok-abcdef-123456"


async def test_the_queue_editor_hides_secrets_and_saving_keeps_them(make_app, store):
    env = {"WANDB_API_KEY": WANDB, "DB_PASSWORD": DB_PASSWORD, "MODE": "fast"}
    make_queue(store, "local", config={"resource_args": {"env": env}})
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_editor(pilot)
        area = form.query_one("#queue-config", TextArea)
        assert WANDB not in area.text and DB_PASSWORD not in area.text
        assert "WANDB_API_KEY: '***'" in area.text and "DB_PASSWORD: '***'" in area.text
        area.text = area.text.replace("MODE: fast", "MODE: slow")
        await _save(pilot, form)
    saved = store.queues.get("local").config["resource_args"]["env"]
    assert saved == {"WANDB_API_KEY": WANDB, "DB_PASSWORD": DB_PASSWORD, "MODE": "slow"}


async def test_the_queue_editor_hides_a_kubernetes_name_value_secret(make_app, store):
    from runners.catalog.queues import check_queue_config

    container = {"name": "main", "env": [{"name": "X_TOKEN", "value": X_TOKEN}]}
    config = {
        "resource_args": {"spec": {"template": {"spec": {"containers": [container]}}}},
        "target": {"kubeconfig": "/nonexistent/kubeconfig"},
    }
    store.queues.create("k8s", "kubernetes", check_queue_config("kubernetes", config))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_editor(pilot)
        area = form.query_one("#queue-config", TextArea)
        assert "X_TOKEN" in area.text and X_TOKEN not in area.text and "'***'" in area.text
        area.text = area.text.replace("name: main", "name: trainer")
        await _save(pilot, form)
    (saved,) = store.queues.get("k8s").config["resource_args"]["spec"]["template"]["spec"][
        "containers"
    ]
    assert saved["name"] == "trainer"
    assert saved["env"] == [{"name": "X_TOKEN", "value": X_TOKEN}]


async def test_the_queue_summary_hides_an_env_name_the_queue_declares_secret(make_app, store):
    env = {"MY_SETTING": DB_PASSWORD, "MODE": "fast"}
    make_queue(store, "local", config={"resource_args": {"env": env}, "secret_env": ["MY_SETTING"]})
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot, lambda: app.screen.query("#queue-summary"), "the queues screen")
        summary = app.screen.query_one("#queue-summary")
        await settle(pilot, lambda: "MY_SETTING" in str(summary.render()), "the config shown")
        assert DB_PASSWORD not in str(summary.render())


async def _open_editor(pilot) -> QueueFormScreen:
    """The Queues screen, then the editor of its selected queue."""
    app = pilot.app
    await pilot.press("2")
    await settle(pilot, lambda: app.screen.query("#queues-table"), "the queues screen")
    await settle(pilot, lambda: app.screen.view is not None, "the queues read")
    await pilot.press("e")
    return await settle(pilot, lambda: isinstance(app.screen, QueueFormScreen) and app.screen)


async def _save(pilot, form: QueueFormScreen) -> None:
    """Wait for the config to check as valid, save it, and for the editor to close."""
    await settle(
        pilot,
        lambda: str(form.query_one("#queue-config-check", Static).render()) == "✓ valid",
        "the check",
    )
    await pilot.press("ctrl+s")
    await settle(pilot, lambda: not isinstance(pilot.app.screen, QueueFormScreen), "saved")

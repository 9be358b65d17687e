"""The queue editor lists the config keys the selected resource type declares, with their help
(a tooltip): read from the target's declaration, so a new target needs no edit in tui/."""

from helpers_tui import settle
from kit import add_fake_target
from textual.widgets import Select, Static

from runners.registry import resource_type
from tui.screens.queue_form import QueueFormScreen

SIZE = (120, 40)


async def open_new_queue_form(pilot) -> QueueFormScreen:
    app = pilot.app
    await pilot.press("2")
    await settle(pilot, lambda: app.screen.query("#queues-table"), "the queues screen")
    await pilot.press("n")
    return await settle(pilot, lambda: isinstance(app.screen, QueueFormScreen) and app.screen)


def keys_line(form: QueueFormScreen) -> str:
    return str(form.query_one("#queue-config-keys", Static).render())


def tooltip(form: QueueFormScreen) -> str:
    return str(form.query_one("#queue-config-keys", Static).tooltip)


def declared(resource: str, block: str) -> str:
    keys = resource_type(resource).config_keys(block)
    return f"{block}: {', '.join(key.name for key in keys)}"


async def test_the_keys_shown_follow_the_selected_resource_type(make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        form = await open_new_queue_form(pilot)
        select = form.query_one("#queue-resource", Select)
        assert select.value == "local-process"
        await settle(pilot, lambda: keys_line(form) == declared("local-process", "resource_args"))

        select.value = "kubernetes"
        await settle(pilot, lambda: keys_line(form) == declared("kubernetes", "target"))
        (kubeconfig, *_) = resource_type("kubernetes").config_keys("target")
        assert f"target.kubeconfig: {kubeconfig.help}" in tooltip(form)

        select.value = "vertex"
        both = f"{declared('vertex', 'target')}\n{declared('vertex', 'resource_args')}"
        await settle(pilot, lambda: keys_line(form) == both, "vertex's two blocks")
        assert "resource_args.spec: The CustomJob" in tooltip(form)


async def test_a_new_target_shows_in_the_editor_from_its_registry_line_alone(
    make_app, monkeypatch, tmp_path
):
    add_fake_target(monkeypatch, tmp_path / "fake")
    async with make_app().run_test(size=SIZE) as pilot:
        form = await open_new_queue_form(pilot)
        select = form.query_one("#queue-resource", Select)
        select.value = "fake-cloud"  # offered: Select refuses a value it doesn't list
        await settle(pilot, lambda: keys_line(form) == "target: zone", "the fake type's keys")
        assert tooltip(form) == "target.zone: The fake cloud's zone, e.g. moon-1."

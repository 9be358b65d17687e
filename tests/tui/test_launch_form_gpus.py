"""The launch form on a queue that hands out GPUs: how many are free now, and a request this
machine can never meet refused as it is typed."""

from helpers_tui import settle
from kit import make_code_job, make_queue

from tui.screens.launch import LaunchScreen

QUEUE_CONFIG = {
    "resource_args": {"gpus": "{{ngpus}}"},
    "template_variables": {"ngpus": {"type": "integer", "minimum": 1, "maximum": 8, "default": 1}},
}


def _banner(screen) -> str:
    found = screen.query("#launch-error")  # not there until the form is composed
    return str(found.first().render()) if found else ""


async def test_the_form_shows_free_gpus_and_refuses_more_than_the_machine_has(
    make_app, store, tmp_path, declare_gpus
):
    declare_gpus(2)
    make_code_job(store, tmp_path, "train", "print('hi')")
    make_queue(store, "gpu", config=QUEUE_CONFIG)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        app.push_screen(LaunchScreen())
        screen = await settle(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen)
        await settle(pilot, lambda: "ready" in _banner(screen), "a preview")
        assert "GPUs free now: 2 of 2" in _banner(screen)
        box = screen.query_one("#field-var-ngpus #value")
        box.focus()
        box.value = ""
        await pilot.press("4")
        await settle(pilot, lambda: "✗" in _banner(screen), "the refusal")
        assert "resource_args.gpus: 4 GPUs asked for, but this machine has 2" in _banner(screen)

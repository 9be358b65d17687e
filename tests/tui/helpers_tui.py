"""Waiting on the app in Pilot tests: bounded, never a fixed sleep."""


async def settle(pilot, condition, what: str = "condition", tries: int = 400):
    """Let the app run until `condition()` is truthy (≤ ~20 s of app time); returns its value."""
    for _ in range(tries):
        value = condition()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"the app never reached: {what}")


def notified(app) -> list[str]:
    """The notifications the app has shown (Textual keeps them in a private list)."""
    return [notification.message for notification in app._notifications]


async def answer_no(pilot) -> None:
    """Wait for the yes/no question, answer n, and wait for it to close; no cancel started."""
    app = pilot.app
    await settle(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", "the question")
    await pilot.press("n")
    await settle(pilot, lambda: type(app.screen).__name__ != "ConfirmScreen", "it answered")
    assert not any(worker.group == "cancel" for worker in app.workers)


def screen_text(app) -> str:
    """What the screen shows, as plain text (from the app's own SVG screenshot)."""
    import html
    import re

    svg = app.export_screenshot()
    body = svg[svg.index("<g class") :] if "<g class" in svg else svg
    text = re.sub(r"</text>", "\n", body)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text).replace("\xa0", " ")


async def press_when_loaded(pilot, screen, key: str, tries: int = 50) -> None:
    """Press `key` on the launch form once its fields are loaded. The form may start another
    rebuild right after it looked loaded (a field's change is still queued): it then refuses
    with "still loading", and the key is pressed again."""
    app = pilot.app
    for _ in range(tries):
        await settle(pilot, lambda: not screen._rebuilding.locked(), "the form loaded")
        seen = len(notified(app))
        await pilot.press(key)
        await pilot.pause()
        if not any("still loading" in note for note in notified(app)[seen:]):
            return
    raise AssertionError(f"the form was still loading after {tries} presses of {key}")


def highlighted_command(app) -> str:
    """The command palette's highlighted entry, as shown ("" when none is)."""
    from textual.command import CommandList

    commands = app.screen.query_one(CommandList)
    if commands.highlighted is None:
        return ""
    return str(commands.get_option_at_index(commands.highlighted).prompt)


async def show_file(pilot, path: str) -> None:
    """Open the folders down to `path` in the files tree and put the cursor on it."""
    tree = pilot.app.screen.query_one("#files-tree")
    node = tree.root
    parts = path.split("/")
    for depth in range(len(parts)):
        wanted = "/".join(parts[: depth + 1])
        node = next(child for child in node.children if child.data.path == wanted)
        if depth < len(parts) - 1:
            node.expand()
    await pilot.pause()
    tree.move_cursor(node)

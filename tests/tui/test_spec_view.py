"""The spec view (tui/widgets/spec_view.py): a spec and a diff shown as rich Text, so what a
user typed ("[/x]", "[bold]") shows as it is; added lines green, removed ones red."""

from helpers_tui import settle
from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.spec_view import SpecView, diff_text, spec_text

HOSTILE = {"env": {"MODE": "[/x] [bold]loud"}, "args": ["--lr", "0.1"]}


class SpecApp(App):
    def compose(self) -> ComposeResult:
        yield SpecView(id="spec")


def _styles_of(text: Text) -> dict[str, str]:
    """Each line of `text` → its style (the one span covering it, if any)."""
    lines = text.plain.split("\n")
    styles = {}
    offset = 0
    for line in lines:
        style = next(
            (str(s.style) for s in text.spans if s.start <= offset and s.end >= offset + len(line)),
            "",
        )
        styles[line] = style
        offset += len(line) + 1
    return styles


def test_a_diff_marks_added_and_removed_lines_and_keeps_brackets():
    after = {**HOSTILE, "env": {"MODE": "[/x] [bold]quiet"}}
    text = diff_text(HOSTILE, after, before_label="run a", after_label="run b")
    assert isinstance(text, Text)
    styles = _styles_of(text)
    assert styles['-    "MODE": "[/x] [bold]loud"'] == "red"
    assert styles['+    "MODE": "[/x] [bold]quiet"'] == "green"
    assert styles["--- run a"] == "" and styles["+++ run b"] == ""


def test_two_equal_specs_say_so():
    assert diff_text(HOSTILE, dict(HOSTILE), same="(no change)").plain == "(no change)"


async def test_the_widget_shows_a_spec_and_then_a_diff_as_they_are():
    app = SpecApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(SpecView)
        view.show_spec(HOSTILE)
        await settle(pilot, lambda: "[/x] [bold]loud" in str(view.render()), "the spec")
        assert str(view.render()) == spec_text(HOSTILE).plain
        view.show_diff(HOSTILE, {**HOSTILE, "args": []})
        await settle(pilot, lambda: '-    "--lr",' in str(view.render()), "the diff")
        shown = str(view.render())
        assert shown.startswith("--- before\n+++ after")
        assert ' "MODE": "[/x] [bold]loud"' in shown  # context, as it is

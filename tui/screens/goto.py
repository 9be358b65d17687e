"""`:` — jump somewhere by typing: `:runs`, `:queues`, `:jobs`, `:q NAME`, `:r RUN` (the forms
navigation.DESTINATIONS declares)."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input

from .. import navigation


class GotoScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Back", id="goto.back")]

    def compose(self) -> ComposeResult:
        yield Input(placeholder="  ".join(navigation.goto_forms()), value=":", id="goto-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value
        self.dismiss()
        self.app.goto(text)

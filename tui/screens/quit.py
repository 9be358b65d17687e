"""Quitting while the embedded agent alone serves work: leave a background agent, quit anyway,
or stay. Dismisses with "background", "quit" or None."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class QuitScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("b", "answer('background')", "Background agent", id="quit.background"),
        Binding("q", "answer('quit')", "Quit anyway", id="quit.anyway"),
        Binding("escape,n", "answer(None)", "Stay", id="quit.stay"),
    ]

    def __init__(self, work: str) -> None:
        """`work`: what the agent serves now, e.g. "1 live run(s) and 2 waiting item(s)"."""
        super().__init__()
        self.work = work

    def compose(self) -> ComposeResult:
        with Grid(id="quit-dialog", classes="dialog"):
            yield Static(
                Content.assemble(
                    "This app's agent is the only one serving ",
                    (self.work, "bold"),
                    ".\n\nLeave a background agent (a detached `launchbay agent`) to carry on?"
                    " Quitting without one leaves live runs running, unwatched, and items"
                    " waiting, until an agent starts.",
                ),
                id="quit-question",
            )
            yield Button("Background agent (b)", variant="primary", id="quit-background")
            yield Button("Quit anyway (q)", variant="error", id="quit-anyway")
            yield Button("Stay (esc)", id="quit-stay")

    def on_mount(self) -> None:
        self.query_one("#quit-background", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        answers = {"quit-background": "background", "quit-anyway": "quit"}
        self.dismiss(answers.get(event.button.id or ""))

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)

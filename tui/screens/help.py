"""`?` — every key of the screen underneath and of the app, with its binding id (rebindable)."""

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from .. import navigation
from ..config import config_path
from ..keys import shown_key


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Static(self._text(), id="help-text")

    def _text(self) -> Text:
        # Text, not markup: the config's path and the user's keys are shown as they are.
        text = Text.assemble(
            ("Keys", "bold"),
            "   (rebind any of them by id in ",
            (str(config_path()), "italic"),
            " under ",
            ("keys:", "bold"),
            ")\n\n",
        )
        under = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else None
        sections = [
            ("This screen", getattr(under, "BINDINGS", [])),
            ("Everywhere", self.app.BINDINGS),
        ]
        for title, bindings in sections:
            text.append(f"{title}\n", style="bold")
            for binding in bindings:
                if isinstance(binding, Binding) and binding.description:
                    text.append(f"  {shown_key(binding, self.app):<22} {binding.description:<24} ")
                    text.append(binding.id or "", style="dim")
                    text.append("\n")
            text.append("\n")
        text.append("Also\n", style="bold")
        text.append(
            "  ctrl+p                 command palette: every action, and themes\n"
            f"  :                      go to {' '.join(navigation.goto_forms())}\n"
            "  esc                    back"
        )
        return text

"""`?` — every key of the screen underneath and of the app, with its binding id (rebindable)."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..config import config_path


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Static(self._text(), id="help-text")

    def _text(self) -> str:
        lines = [
            "[b]Keys[/b]   (rebind any of them by id in "
            f"[i]{config_path()}[/i] under [b]keys:[/b])",
            "",
        ]
        under = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else None
        sections = [
            ("This screen", getattr(under, "BINDINGS", [])),
            ("Everywhere", self.app.BINDINGS),
        ]
        for title, bindings in sections:
            lines.append(f"[b]{title}[/b]")
            for binding in bindings:
                if isinstance(binding, Binding) and binding.description:
                    lines.append(
                        f"  {binding.key:<22} {binding.description:<24}"
                        f" [dim]{binding.id or ''}[/dim]"
                    )
            lines.append("")
        lines += [
            "[b]Also[/b]",
            "  ctrl+p                 command palette: every action, and themes",
            "  :                      go to :runs :queues :jobs :q NAME :r RUN",
            "  esc                    back",
        ]
        return "\n".join(lines)

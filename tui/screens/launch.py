"""Placeholder: being written."""

from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class LaunchScreen(Screen):
    class Select(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("LaunchScreen")
        yield Footer()

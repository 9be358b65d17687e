"""Messages the app's parts post to each other: past-tense events."""

from textual.message import Message


class StoreChanged(Message, bubble=False):
    """Another connection (the agent, another process) committed to the store.

    The app receives it from its watcher and hands it to each screen that shows (the top one,
    and those under a modal); it must not bubble back up, or the app would hand it over
    again. A hidden screen is not told: it reads the store again when it is resumed."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)  # a burst of commits is one refresh


class AgentReported(Message):
    """The embedded agent said something (a run claimed, ended, an error)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class AgentStateChanged(Message):
    """The embedded agent is up ("idle") or has stopped ("stopped", with the error it died of)."""

    def __init__(self, state: str, error: str | None = None) -> None:
        super().__init__()
        self.state = state
        self.error = error

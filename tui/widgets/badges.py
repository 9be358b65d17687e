"""How states look: one style per run and item state, shared by every screen."""

from textual.content import Content

RUN_STATE_STYLES = {
    "starting": "bold yellow",
    "running": "bold cyan",
    "stopping": "bold magenta",
    "finished": "bold green",
    "failed": "bold red",
    "stopped": "dim",
    "preempted": "bold dark_orange",
    "crashed": "bold white on red",
}
ITEM_STATE_STYLES = {
    "pending": "yellow",
    "leased": "cyan",
    "claimed": "green",
    "failed": "red",
    "cancelled": "dim",
}


def run_state_style(state: str) -> str:
    return RUN_STATE_STYLES.get(state, "")


def state_text(state: str) -> Content:
    """A state badge as Content, to join with store strings that must not be read as markup."""
    style = RUN_STATE_STYLES.get(state) or ITEM_STATE_STYLES.get(state, "")
    return Content.styled(state, style) if style else Content(state)

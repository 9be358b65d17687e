"""Where the app can go: each top-level destination declared once, in `DESTINATIONS`.

The app's modes and number keys, the command palette's "Go to" entries, `:` (goto) and the
help screen's navigation lines are all built from this list, so a new screen is one entry here
(plus its own module, and its styles in app.tcss).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding

from .screens.gpus import GpusScreen
from .screens.jobs import JobsScreen
from .screens.queues import QueuesScreen
from .screens.runs import RunsScreen
from .screens.sweeps import SweepsScreen

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen


@dataclass(frozen=True)
class GotoArgument:
    """What `:VERB ARG` does for a destination, e.g. `:q NAME` selects a queue."""

    open: Callable[[App, str], None]
    """Called with the app and the argument's text."""
    hint: str = ""
    """How help and the goto prompt show it, without the colon: `q NAME`; empty: accepted
    but not advertised."""


@dataclass(frozen=True)
class Destination:
    """A top-level section of the app: a Textual mode with its key, palette entry and verbs."""

    mode: str
    """The mode's name, also what `switch_mode` takes."""
    key: str
    """The default key that switches to it (rebindable by `binding_id`)."""
    title: str
    """Shown in the footer, the help and the palette ("Go to Runs")."""
    screen: Callable[[], Screen]
    """Builds the mode's base screen (a Screen class will do)."""
    verbs: tuple[str, ...]
    """What `:` accepts for it: `runs`, `r`, …; the first is the one help shows."""
    argument: GotoArgument | None = None
    """What `:VERB ARG` does; None: an argument is refused."""
    in_footer: bool = True
    """Whether the footer shows its key (help and the palette always list it)."""

    @property
    def binding_id(self) -> str:
        """The id users rebind its key by in the config: `app.runs`."""
        return f"app.{self.mode}"

    def binding(self) -> Binding:
        return Binding(
            self.key,
            f"go('{self.mode}')",
            self.title,
            show=self.in_footer,
            id=self.binding_id,
        )


def _switch_and_post(mode: str, message: Callable[[str], object]) -> Callable[[App, str], None]:
    def open_(app: App, text: str) -> None:
        app.switch_mode(mode)
        app.screen.post_message(message(text))

    return open_


def _open_run(app: App, text: str) -> None:
    """`:r ID`: the run, by its id or a unique prefix of it (one indexed read)."""
    from store import NotFound

    from .screens.run_detail import RunDetailScreen

    try:
        run = app.stores.get().runs.find(text.strip())
    except NotFound as exc:
        app.notify(str(exc), severity="warning", markup=False)
        return
    app.push_screen(RunDetailScreen(run.id))


DESTINATIONS: list[Destination] = [
    Destination(
        "runs", "1", "Runs", RunsScreen, ("runs", "r", "run"), GotoArgument(_open_run, "r RUN")
    ),
    Destination(
        "queues",
        "2",
        "Queues",
        QueuesScreen,
        ("queues", "queue", "q"),
        GotoArgument(_switch_and_post("queues", QueuesScreen.Select), "q NAME"),
    ),
    Destination(
        "jobs",
        "3",
        "Jobs",
        JobsScreen,
        ("jobs", "job", "j"),
        GotoArgument(_switch_and_post("jobs", JobsScreen.Select)),  # `:j NAME`, unadvertised
    ),
    Destination("gpus", "4", "GPUs", GpusScreen, ("gpus", "gpu", "g")),
    # Off the footer: the four above are the everyday ones, and its width is spoken for.
    Destination("sweeps", "5", "Sweeps", SweepsScreen, ("sweeps", "sw"), in_footer=False),
]


def go(app: App, mode: str) -> None:
    """A destination's key: its section, at its top (`1` from a run's detail is the runs
    list, not the detail again)."""
    if app.current_mode != mode:
        app.switch_mode(mode)
    while len(app.screen_stack) > 1:
        app.pop_screen()


def bindings() -> list[Binding]:
    """The number keys, one per destination, in the list's order."""
    return [destination.binding() for destination in DESTINATIONS]


def goto_forms() -> list[str]:
    """What `:` accepts, as help and the prompt show it: every destination's first verb, then
    the argument forms in alphabetical order (`:runs :queues :jobs :q NAME :r RUN`)."""
    plain = [f":{destination.verbs[0]}" for destination in DESTINATIONS]
    hints = sorted(
        f":{destination.argument.hint}"
        for destination in DESTINATIONS
        if destination.argument and destination.argument.hint
    )
    return plain + hints


def goto(app: App, text: str) -> None:
    """Go where `text` (what was typed after `:`) says; an unknown verb is a warning."""
    words = text.strip().lstrip(":").split()
    if not words:
        return
    verb, rest = words[0].lower(), " ".join(words[1:])
    for destination in DESTINATIONS:
        if verb not in destination.verbs:
            continue
        if not rest:
            go(app, destination.mode)
            return
        if destination.argument is not None:
            destination.argument.open(app, rest)
            return
    app.notify(
        f"unknown: {text!r}; try {', '.join(goto_forms())}",
        severity="warning",
        markup=False,
    )

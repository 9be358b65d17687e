"""The base of every screen that shows what the store holds and keeps it current.

A `LiveScreen` reads again when the store changes while it shows (the top screen, or one left
visible under a modal); a hidden one is only dirty: it reads when it comes back, and only if
the store changed meanwhile. Its reads go through loaders (tui.loading), and a read that
failed is shown, never left at "loading…".
"""

from __future__ import annotations

from textual.app import App
from textual.screen import ModalScreen, Screen

from ..loading import LoaderHost
from ..messages import StoreChanged


def shown_screens(app: App) -> list[Screen]:
    """The screens the user sees, top first: the top one and those a modal leaves visible."""
    shown = []
    for screen in reversed(app.screen_stack):
        shown.append(screen)
        if not isinstance(screen, ModalScreen):
            break
    return shown


class LiveScreen(LoaderHost, Screen):
    """Subclasses implement `load()` (start their loaders) and call `reload()` once mounted;
    `show_load_failed` may put the failure in their own panel as well."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reads = 0
        """How many times this screen has read the store (tests watch it)."""
        self._seen_changes: int | None = None  # the app's change count at the last read

    def load(self) -> None:
        """Start this screen's reads (its loaders)."""
        raise NotImplementedError

    def reload(self) -> None:
        """Read the store again for this screen."""
        self.note_read()
        self.load()

    def note_read(self) -> None:
        """Count a read started otherwise (a widget that reads on its own when mounted)."""
        self._seen_changes = self.app.store_changes
        self.reads += 1

    @property
    def dirty(self) -> bool:
        """The store changed since this screen last read it."""
        return self._seen_changes != self.app.store_changes

    def on_store_changed(self, message: StoreChanged) -> None:
        # The app tells the screens that show; by the time this arrives, another screen may
        # have covered this one: then it stays dirty and reads when it comes back.
        if self in shown_screens(self.app):
            self.reload()

    def on_screen_resume(self) -> None:
        # Resume can come before the first read (before compose): on_mount reads then.
        if self.reads and self.dirty:
            self.reload()

    def show_load_failed(self, what: str, error: Exception) -> str:
        """Say that reading `what` failed (a notification); returns the line, for a screen to
        show in its own panel too."""
        line = f"could not read {what}: {error}"
        self.notify(line, severity="error", timeout=8, markup=False)
        return line

"""The command palette (ctrl+p): every action of the app, and of the screen in front."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from . import navigation
from .keys import shown_key


class LaunchbayCommands(Provider):
    """Offers the app's navigation and each binding of the current screen, by its description."""

    def _commands(self):
        app = self.app
        for destination in navigation.DESTINATIONS:
            yield (
                f"Go to {destination.title}",
                partial(app.action_go, destination.mode),
                f"{destination.title} screen ({shown_key(destination.binding(), app)})",
            )
        help_key = next((shown_key(b, app) for b in app.BINDINGS if b.id == "app.help"), "?")
        yield "Help: keys", app.action_help, f"Every key of this screen and the app ({help_key})"
        screen = self.screen
        for binding in getattr(screen, "BINDINGS", []):
            if getattr(binding, "description", "") and getattr(binding, "id", None):
                action = binding.action
                yield (
                    f"{screen.__class__.__name__.removesuffix('Screen')}: {binding.description}",
                    partial(screen.run_action, action),
                    f"key {shown_key(binding, app)}",
                )

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)

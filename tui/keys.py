"""The keys in force: a binding's default key, or the one the user rebound it to.

Help and the palette show these, read when they are shown, so a rebinding made at any time
(the config file at start, `App.set_keymap` / `update_keymap` later) is what they list.
"""

from __future__ import annotations

from dataclasses import replace

from textual.app import App
from textual.binding import Binding


def keymap_in_force(app: App) -> dict[str, str]:
    """Binding id → key(s), as the app applies them now. Textual keeps the keymap that
    set_keymap/update_keymap installed in `_keymap`, with no public getter."""
    return dict(getattr(app, "_keymap", None) or {})


def bound_key(binding: Binding, app: App) -> str:
    """The key(s) `binding` answers to in `app` now, not its default."""
    binding_id = getattr(binding, "id", None)
    if not binding_id:
        return binding.key
    return keymap_in_force(app).get(binding_id, binding.key)


def shown_key(binding: Binding, app: App) -> str:
    """The key(s) in force as a user types them (`/`, `?`, `^k`), not by Textual's names
    (`slash`, `question_mark`, `ctrl+k`)."""
    keys = [key.strip() for key in bound_key(binding, app).split(",") if key.strip()]
    return ",".join(app.get_key_display(replace(binding, key=key)) for key in keys)

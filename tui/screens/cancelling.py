"""Cancel with a confirmation, from any screen: a run (stop it) or a waiting queue item."""

from __future__ import annotations

from textual.content import Content
from textual.screen import Screen

from ..loading import Answered
from .confirm import ConfirmScreen


def confirm_cancel(screen: Screen, ident: str, what: Content) -> None:
    """Ask, then cancel `ident` (a run id or an item id) on a worker thread. `what` names it
    in the question (Content: it holds store text, never to be read as markup)."""
    # Taken here, on the UI thread: from the worker's thread, screen.app can't be found once
    # the screen is closed.
    app = screen.app

    def cancel() -> None:
        from runners.agent.cancelling import cancel_by_id
        from store import BadInput

        try:
            message = cancel_by_id(app.stores.get(), ident)
        except BadInput as exc:
            app.post_message(Answered(app.notify, str(exc), severity="error", markup=False))
            return
        except Exception as exc:  # a bug: said, and still raised for the worker's log
            app.post_message(Answered(app.notify, f"failed: {exc}", severity="error", markup=False))
            raise
        app.post_message(Answered(app.notify, message, markup=False))

    def answered(yes: bool | None) -> None:
        if yes:
            # The app's worker, not the screen's: leaving the screen must not cancel the cancel.
            app.run_worker(cancel, thread=True, exit_on_error=False, group="cancel")

    question = Content.assemble("Cancel ", what, "?")
    app.push_screen(ConfirmScreen(question, yes="Cancel it", no="Keep it"), answered)

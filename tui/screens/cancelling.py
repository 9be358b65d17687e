"""Cancel with a confirmation, from any screen: a run (stop it) or a waiting queue item."""

from __future__ import annotations

from textual.screen import Screen

from .confirm import ConfirmScreen


def confirm_cancel(screen: Screen, ident: str, what: str) -> None:
    """Ask, then cancel `ident` (a run id or an item id) on a worker thread."""

    def cancel() -> None:
        from runners.cancelling import cancel_by_id
        from store import BadInput

        try:
            message = cancel_by_id(screen.app.stores.get(), ident)
        except BadInput as exc:
            screen.app.call_from_thread(screen.notify, str(exc), severity="error")
            return
        screen.app.call_from_thread(screen.notify, message)

    def answered(yes: bool | None) -> None:
        if yes:
            screen.run_worker(cancel, thread=True, exit_on_error=False, group="cancel")

    screen.app.push_screen(
        ConfirmScreen(f"Cancel {what}?", yes="Cancel it", no="Keep it"), answered
    )

"""Telling the user that runs ended, wherever they look: a toast in the app for every run of
the store that ends (whoever ran it), and in the terminal a bell and a desktop notification
(OSC 9, and OSC 777 for the terminals that read that one), which reach the terminal even from
a tmux pane in the background (wrapped in tmux's passthrough; tmux needs
`set -g allow-passthrough all`). `terminal_notify: false` in the config file turns the
terminal's part off.
"""

from __future__ import annotations

import os

from store import Run

BELL = "\a"
# What a toast says of each ending, and how loudly.
SEVERITY = {"finished": "information", "preempted": "warning", "stopped": "information"}


def toast_text(run: Run) -> tuple[str, str, str]:
    """(title, message, severity) of the toast for an ended run; a failure says its reason."""
    state = run.state.value
    title = f"run {run.id} {state}"
    reason = run.error_message or run.message
    if state in ("failed", "crashed"):
        stage = f"[{run.error_stage}] " if run.error_stage else ""
        message = f"{run.job} on {run.queue}: {stage}{reason or state}"
    else:
        message = f"{run.job} on {run.queue}" + (f": {run.message}" if run.message else "")
    return title, message, SEVERITY.get(state, "error")


def terminal_sequence(title: str, body: str, environ=os.environ) -> str:
    """A bell, then OSC 9 and OSC 777 notifications; inside tmux, the OSCs are wrapped in its
    DCS passthrough (every ESC doubled) so that tmux hands them to the outer terminal."""
    # Control characters would end the sequence early (or start another): dropped.
    title, body = (_printable(text) for text in (title, body))
    notifications = f"\x1b]9;{title}: {body}\a" + f"\x1b]777;notify;{title};{body}\a"
    if environ.get("TMUX"):
        notifications = "\x1bPtmux;" + notifications.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return BELL + notifications


def _printable(text: str) -> str:
    return "".join(char for char in text if char.isprintable()).replace(";", ",")


class RunEndingNews:
    """Mixed into the app: `start_run_endings()` on mount, `check_run_endings()` on each store
    change. Reads run on a loader's thread; the toasts and the terminal's share on the UI's."""

    _ended_watermark: int | None = None

    def start_run_endings(self) -> None:
        # Runs that ended before the app opened are no news.
        self.loader(
            "run-endings-start", self._last_event, self._set_watermark, self._failed
        ).start()

    def _last_event(self) -> int:
        return self.stores.get().runs.last_event_id()

    def _set_watermark(self, event_id: int) -> None:
        self._ended_watermark = event_id

    def check_run_endings(self) -> None:
        if self._ended_watermark is None:
            return  # not started yet: the first read sets where news begins
        # One loader for every check: of two reads from the same watermark only the newest is
        # told (Loader.deliver), so a burst of store changes toasts each ending once.
        if getattr(self, "_endings_loader", None) is None:
            self._endings_loader = self.loader(
                "run-endings", self._read_endings, self._tell_endings, self._failed
            )
        self._endings_loader.start(self._ended_watermark)

    def _read_endings(self, after: int) -> tuple[int, list[Run]]:
        return self.stores.get().runs.ended_after(after)

    def _tell_endings(self, news: tuple[int, list[Run]]) -> None:
        last, runs = news
        self._ended_watermark = max(last, self._ended_watermark or 0)
        for run in runs:
            title, message, severity = toast_text(run)
            self.notify(message, title=title, severity=severity, timeout=8, markup=False)
            if self.config.terminal_notify:
                self.write_to_terminal(terminal_sequence(title, message))

    def write_to_terminal(self, text: str) -> None:
        """Raw output to the terminal, through the app's driver (what Textual's bell uses)."""
        if self._driver is not None:
            self._driver.write(text)

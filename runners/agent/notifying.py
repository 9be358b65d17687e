"""Notifications when runs end (a mixin of `Agent`): the queue's `notify:` (else the config
file's) names apprise URLs and the states to send on. Sent on a thread of its own, so a slow
or dead endpoint never holds the agent up; a failure is written in the run's log, posted to
the agent thread for the run's timeline (an event), and said in the agent's report; the agent
goes on."""

import threading
from dataclasses import dataclass

from runners.runlog.logfile import note_in_log
from store import BadInput, Run, Store
from store.errors import passing_fault

# How long a stopping agent waits for notifications still being sent.
NOTIFY_DRAIN_SECONDS = 15.0


@dataclass(frozen=True)
class NotifyFailed:
    """A notification thread's news for the agent thread: `text` goes on the run's events."""

    run_id: str
    text: str


class Notifying:
    _notifications: list[threading.Thread] = []  # replaced, never appended to, per agent

    def _notify_ended(self, store: Store, run_id: str) -> None:
        """Called on the agent thread once a run has ended."""
        run = store.runs.get(run_id)
        try:
            settings = _settings_for(store, run)
        except BadInput as exc:
            self._record_error(store, f"run {run.id}: no notification sent: {exc}")
            return
        if settings is None or run.state.value not in settings["on"]:
            return
        log_path = store.run_log_path(run.id)
        thread = threading.Thread(
            target=self._send, args=(run, settings["urls"], log_path), daemon=True
        )
        # Those still being sent, for a stopping agent to wait on; the sent ones are let go.
        self._notifications = [t for t in self._notifications if t.is_alive()] + [thread]
        thread.start()

    def _send(self, run: Run, urls: list[str], log_path) -> None:
        from runners.notify.sender import NotifyError, notify_text, send

        try:
            send(urls, *notify_text(run))
            return
        except NotifyError as exc:
            text = str(exc)
        except Exception as exc:  # apprise's own bug: said, never the agent's end
            text = f"notification failed: {type(exc).__name__}: {exc}"
        note_in_log(log_path, text)
        self._report(f"run {run.id}: {text}")
        self._post(NotifyFailed(run.id, text))

    def _finish_notifications(self, store: Store) -> None:
        """A stopping agent (`--until-empty` at its end) lets notifications being sent finish,
        and records their failures."""
        for thread in self._notifications:
            thread.join(NOTIFY_DRAIN_SECONDS)
        try:
            self._apply_inbox(store)
        except Exception as exc:
            if passing_fault(exc) is None:
                raise
            # The store can't be written now: the failures stay in the runs' logs.


def _settings_for(store: Store, run: Run) -> dict | None:
    from runners.launch.validation import check_model
    from runners.notify.settings import NotifyFileSettings
    from runners.system.config_file import read_config_document

    try:
        queue = store.queues.get(run.queue)
    except BadInput:
        queue = None
    if queue is not None and queue.config.get("notify"):
        return queue.config["notify"]
    document = read_config_document()
    settings = check_model(NotifyFileSettings, document, "config")
    return None if settings.notify is None else settings.notify.model_dump()

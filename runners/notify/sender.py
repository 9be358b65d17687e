"""Sending a run's end through apprise (the `notify` extra, imported when a run ends and a
`notify:` block applies, never before)."""

from __future__ import annotations

TITLES = {
    "finished": "finished",
    "failed": "failed",
    "crashed": "crashed",
    "stopped": "stopped",
    "preempted": "was preempted",
}


class NotifyError(Exception):
    """A notification that could not be sent; the message says why and what to do."""


def notify_text(run) -> tuple[str, str, str]:
    """(title, body, apprise type) for an ended run."""
    state = run.state.value
    title = f"launchbay: run {run.id} {TITLES.get(state, state)}"
    body = f"{run.job} on {run.queue}: {state}"
    if run.message:
        body += f" ({run.message})"
    if run.error_stage:
        body += f"\nerror at {run.error_stage}: {run.error_message}"
    kind = {"finished": "success", "failed": "failure", "crashed": "failure"}.get(state, "warning")
    return title, body, kind


def send(urls: list[str], title: str, body: str, kind: str) -> None:
    """Send to every URL; raises NotifyError naming the URLs (as scheme://***) that failed."""
    try:
        import apprise
    except ImportError:
        raise NotifyError("apprise is not installed (pip install 'launchbay[notify]')") from None
    failed = []
    for url in urls:
        sender = apprise.Apprise()
        shown = url.split("://", 1)[0] + "://***"
        if not sender.add(url):
            failed.append(f"{shown} (not a URL apprise knows)")
            continue
        if not sender.notify(title=title, body=body, notify_type=kind):
            failed.append(f"{shown} (not delivered)")
    if failed:
        raise NotifyError("notification failed: " + ", ".join(failed))

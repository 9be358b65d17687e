"""Copying a container's output into the run's log, live, and resuming after an agent restart.

Docker keeps a container's output itself, so nothing is lost while no agent watches; what we
must avoid is copying a line twice: see runners.runlog.cursor.
"""

import contextlib
from pathlib import Path

from runners.runlog.cursor import LogCopier
from runners.targets.remote import FollowerThread


class LogPump(FollowerThread):
    """A thread that follows one container's stdout and stderr into the run's log file. Told
    nothing at the run's end: the engine ends the stream when the container exits."""

    def __init__(self, api, container_id: str, log_path: Path, cursor_path: Path):
        super().__init__(f"launchbay-logs-{container_id[:12]}")
        self._api = api
        self._container_id = container_id
        self._log_path = log_path
        self._cursor_path = cursor_path

    def follow(self) -> None:
        # A broken stream is let go: the runner copies the rest, the run's state says why.
        with contextlib.suppress(Exception):
            copy_output(
                self._api, self._container_id, self._log_path, self._cursor_path, follow=True
            )


def copy_output(api, container_id: str, log_path: Path, cursor_path: Path, follow: bool) -> None:
    """Append the container's output since the cursor to the log; with `follow`, until it
    exits."""
    copier = LogCopier(log_path, cursor_path)
    stream = api.logs(
        container_id, stream=True, follow=follow, timestamps=True, since=copier.since_seconds()
    )
    try:
        for frame in stream:  # one frame per line, each with its timestamp
            copier.write(frame)
    finally:
        copier.close()
        with contextlib.suppress(Exception):
            stream.close()

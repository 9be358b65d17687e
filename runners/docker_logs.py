"""Copying a container's output into the run's log, live, and resuming after an agent restart.

Docker keeps a container's output itself, so nothing is lost while no agent watches; what we
must avoid is copying a line twice. Each line arrives with docker's fixed-width timestamp; the
last one copied is kept in a cursor file, and a pump started later asks docker for the lines
since then and skips any it already has.
"""

import contextlib
import os
import threading
from pathlib import Path

from .logfile import open_append

# "2026-11-26T08:00:00.123456789Z" is 30 bytes; room to spare for a zone offset.
CURSOR_WIDTH = 40


class LogPump:
    """A thread that follows one container's stdout and stderr into the run's log file."""

    def __init__(self, api, container_id: str, log_path: Path, cursor_path: Path):
        self._api = api
        self._container_id = container_id
        self._log_path = log_path
        self._cursor_path = cursor_path
        self.done = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"launchbay-logs-{container_id[:12]}", daemon=True
        )

    def start(self) -> "LogPump":
        self._thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        return self.done.wait(timeout)

    def _run(self) -> None:
        try:
            copy_output(
                self._api, self._container_id, self._log_path, self._cursor_path, follow=True
            )
        except Exception as exc:  # the container went away mid-stream; the run's state says why
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()


def copy_output(api, container_id: str, log_path: Path, cursor_path: Path, follow: bool) -> None:
    """Append the container's output since the cursor to the log; with `follow`, until it
    exits."""
    cursor = read_cursor(cursor_path)
    since = _timestamp_seconds(cursor) if cursor else None
    stream = api.logs(
        container_id, stream=True, follow=follow, timestamps=True, since=since or None
    )
    log_fd = open_append(log_path)
    # The stamps are fixed-width, so the cursor is overwritten in place: one syscall per line,
    # right after the line itself, and an agent killed between the two repeats one line at most.
    cursor_fd = os.open(cursor_path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for frame in stream:
            stamp, _, text = frame.partition(b" ")
            stamp_text = stamp.decode("ascii", "replace")
            if cursor and stamp_text <= cursor:
                continue  # copied before the agent restarted
            os.write(log_fd, text)
            os.pwrite(cursor_fd, stamp.ljust(CURSOR_WIDTH), 0)
            cursor = stamp_text
    finally:
        os.close(log_fd)
        os.close(cursor_fd)
        with contextlib.suppress(Exception):
            stream.close()


def read_cursor(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def _timestamp_seconds(stamp: str) -> float | None:
    """Docker's `2026-11-26T08:00:00.123456789Z` as seconds (to the microsecond; the skip
    above removes what the rounding lets through twice)."""
    from datetime import datetime

    try:
        whole, _, fraction = stamp.rstrip("Z").partition(".")
        seconds = datetime.fromisoformat(whole + "+00:00").timestamp()
        return seconds + float(f"0.{fraction or 0}") - 1e-6
    except ValueError:
        return None

"""What `job create code` says while it packs the directory and once it has: a progress line
on stderr (on a terminal, or with --progress), the files and size, a warning when it is big."""

import sys
import time

import click

from ..timefmt import human_size
from .output import note

PROGRESS_EVERY = 0.1  # seconds between progress lines: a terminal, not a log, reads them


class SnapshotPrinter:
    """A runners.catalog.snapshots.SnapshotReport for the command line."""

    def __init__(self, show_progress: bool, warn_above_bytes: int, as_json: bool):
        self.show_progress = show_progress
        self.warn_above_bytes = warn_above_bytes
        self.as_json = as_json
        self.snapshot = None
        self._last = 0.0

    def progress(self, files: int, size: int) -> None:
        now = time.monotonic()
        if self.show_progress and now - self._last >= PROGRESS_EVERY:
            self._last = now
            # One line rewritten in place: \r, and the rest of the old line cleared.
            click.echo(f"\rpacking: {files} files, {human_size(size)}\x1b[K", err=True, nl=False)

    def packed(self, snapshot) -> None:
        self.snapshot = snapshot
        if self.show_progress and self._last:
            click.echo("\r\x1b[K", err=True, nl=False)

    def summary(self) -> None:
        """The files and size (stdout, or stderr beside --json), and the warning if big."""
        snapshot = self.snapshot
        if snapshot is None:
            return
        ignored = f"; {snapshot.ignored} path(s) ignored" if snapshot.ignored else ""
        line = f"snapshot: {snapshot.files} files, {human_size(snapshot.size)}{ignored}"
        if self.as_json:
            note(line)  # stdout is the JSON document
        else:
            click.echo(line)
        if snapshot.size > self.warn_above_bytes:
            note(
                f"warning: the snapshot is {human_size(snapshot.size)}, over"
                f" {human_size(self.warn_above_bytes)}: list what the job does not need (data,"
                " checkpoints) in .gitignore or .launchbayignore (snapshot_warn_mb in the config"
                " file moves this limit)"
            )

    def to_json(self) -> dict | None:
        if self.snapshot is None:
            return None
        return {
            "files": self.snapshot.files,
            "size": self.snapshot.size,
            "ignored": self.snapshot.ignored,
        }


def snapshot_printer(progress_flag: bool, as_json: bool) -> SnapshotPrinter:
    """The printer for this command: progress on a terminal or when asked; the warning limit
    from the config file's `snapshot_warn_mb`."""
    from ..config import load_user_config

    warn_mb = load_user_config().snapshot_warn_mb
    show = progress_flag or sys.stderr.isatty()
    return SnapshotPrinter(show, warn_mb * 1024 * 1024, as_json)

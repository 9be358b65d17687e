"""Reading a run's log file, and following it as it grows, without sleep-polling."""

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from runners.system.fdwait import wait_readable
from runners.system.wakeup import FileWatch

# With no inotify, how often to look again; also the longest a finished run's follower waits
# for its last lines.
FALLBACK_INTERVAL = 0.2


def follow_lines(
    path: Path,
    is_done: Callable[[], bool],
    follow: bool = True,
    start: int = 0,
    redrawn: Callable[[str], None] | None = None,
) -> Iterator[str]:
    """Yield the lines of `path` (without newlines); with `follow`, keep yielding new ones until
    `is_done()` and everything written before it has been read. `redrawn` is given the latest
    state of a line still being written that a progress bar redraws (`\r`), whenever it has
    changed and there is nothing more to read for now."""
    watch = FileWatch(path.parent, {path.name}) if follow else None
    try:
        while not path.exists():
            if not follow or is_done():
                return
            _wait(watch)
        with open(path, "rb") as f:
            f.seek(start)
            # A line still being written; a progress bar's can grow for hours without a newline,
            # so it is added to in place and only its last state is decoded to redraw it.
            partial = bytearray()
            shown = 0  # how much of it was there when it was last redrawn
            finishing = False
            while True:
                chunk = f.read(1 << 16)
                if chunk:
                    if b"\n" not in chunk:
                        partial += chunk
                        continue
                    lines = (bytes(partial) + chunk).split(b"\n")
                    partial, shown = bytearray(lines.pop()), 0
                    for line in lines:
                        yield line.decode("utf-8", "replace")
                    continue
                if not follow or finishing:
                    break
                if redrawn is not None and len(partial) != shown and b"\r" in partial:
                    redrawn(_last_state(partial))
                    shown = len(partial)
                if is_done():
                    # One more pass: whatever was written before it ended still gets read.
                    finishing = True
                    continue
                _wait(watch)
            if partial:
                yield partial.decode("utf-8", "replace")
    finally:
        if watch is not None:
            watch.close()


def _last_state(redrawn: bytearray) -> str:
    """latest_state of a line's bytes, decoding only its last state."""
    end = len(redrawn)
    while end and redrawn[end - 1] == ord("\r"):
        end -= 1
    return redrawn[redrawn.rfind(b"\r", 0, end) + 1 : end].decode("utf-8", "replace")


def latest_state(line: str) -> str:
    """A line as a terminal shows it: a progress bar's line, redrawn with `\r`, in its last
    state."""
    line = line.rstrip("\r")
    return line.rsplit("\r", 1)[-1]


def _wait(watch: FileWatch | None) -> None:
    if watch is not None and watch.available:
        # Wake on a write, and at least every second to re-check is_done().
        if wait_readable(watch.fileno(), 1.0):
            watch.drain()
    else:
        time.sleep(FALLBACK_INTERVAL)


def open_append(path: Path) -> int:
    """A private, append-only file descriptor: concurrent line writes never overwrite."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)


def note_in_log(path: Path, text: str) -> None:
    """Add a line of launchbay's own to a run's log (`[launchbay] …`), on a line of its own
    even after a line left unended (a progress bar's, an agent killed mid-pull); a log that
    can't be written is no reason to fail anything else."""
    try:
        # Read-write (still appending): the log's last byte says if a line is left unended.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            size = os.fstat(fd).st_size
            unended = size and os.pread(fd, 1, size - 1) != b"\n"
            os.write(fd, f"{chr(10) if unended else ''}[launchbay] {text}\n".encode())
        finally:
            os.close(fd)
    except OSError:
        pass

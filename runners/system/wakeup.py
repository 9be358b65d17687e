"""Waking up on change instead of sleeping in a loop.

`FileWatch` gives a file descriptor that becomes readable when files in a folder change, via
Linux inotify (through ctypes: the standard library has no binding). Where inotify is missing
it says so, and callers fall back to a short timeout. `Waker` is a self-pipe for wake-ups from
other threads of the same process.
"""

import contextlib
import ctypes
import ctypes.util
import os
import struct
import threading
from pathlib import Path

IN_MODIFY = 0x002
IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_EVENT_HEADER = struct.Struct("iIII")

_libc = None


def _load_libc():
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c") or "libc.so.6"
        _libc = ctypes.CDLL(name, use_errno=True)
    return _libc


class FileWatch:
    """Readable when any of `names` in `folder` is written, created or replaced."""

    def __init__(self, folder: Path, names: set[str]):
        self.names = {name.encode() for name in names}
        self.fd = -1
        try:
            libc = _load_libc()
            fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            if fd < 0:
                return
            mask = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
            if libc.inotify_add_watch(fd, os.fsencode(folder), mask) < 0:
                os.close(fd)
                return
            self.fd = fd
        except (OSError, AttributeError):
            self.fd = -1

    @property
    def available(self) -> bool:
        return self.fd >= 0

    def fileno(self) -> int:
        return self.fd

    def drain(self) -> bool:
        """Read pending events; True if one of them was about a watched name."""
        relevant = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return relevant
            offset = 0
            while offset < len(data):
                _, _, _, length = _EVENT_HEADER.unpack_from(data, offset)
                start = offset + _EVENT_HEADER.size
                name = data[start : start + length].rstrip(b"\0")
                relevant = relevant or name in self.names
                offset = start + length

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Waker:
    """A self-pipe: `wake()` from any thread makes `fileno()` readable. Once closed, a late
    `wake()` (a run thread posting after its agent stopped) does nothing: it must never write
    to a descriptor number that has since been given to another file."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._lock = threading.Lock()
        self._closed = False

    def fileno(self) -> int:
        return self._read

    def wake(self) -> None:
        with self._lock:
            if self._closed:
                return
            # A full pipe means a wake-up is already pending.
            with contextlib.suppress(BlockingIOError):
                os.write(self._write, b"x")

    def drain(self) -> None:
        try:
            while os.read(self._read, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._read)
            os.close(self._write)

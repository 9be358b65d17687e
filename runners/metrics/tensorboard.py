"""TensorBoard event files under a run's folder, one metric source each.

Training code that uses PyTorch's SummaryWriter (`runs/<date>_<host>/`), Lightning's default
logger (`lightning_logs/version_N/`) or tensorboardX writes `events.out.tfevents.*` files
under its working folder: the agent finds them there and reads their scalars, with no change
to the code. Finding them is plain `os` work, called every second or two while a run lives,
so it is cached per folder: after the first walk only the folders whose modification time
changed are listed again. tensorboard itself (the `tensorboard` extra) is imported only once an
event file is found.
"""

from __future__ import annotations

import importlib
import os
from collections import OrderedDict
from pathlib import Path

from runners.metrics.sources import MetricSource

EVENT_FILE_MARK = "events.out.tfevents."
SOURCE_PREFIX = "tensorboard:"
MAX_DEPTH = 8  # below the run's folder: deeper than any writer's default layout
# Folders no writer logs to by default, and that may hold thousands of entries.
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})
MAX_FOLDERS = 256  # folders remembered at once: a long-lived agent serves many runs
MISSING_EXTRA = "install launchbay[tensorboard] to read them"


class TensorBoardSources(list):
    """The sources found (a list), and `note`: one line the caller shows on the run, set once
    per folder, the first time event files are found that can't be read (no tensorboard)."""

    note: str | None = None


def tensorboard_sources(folder: Path) -> TensorBoardSources:
    """One source per TensorBoard event file under `folder`, named by its relative path."""
    folder = Path(folder)
    scan = _SCANS.pop(folder, None) or _FolderScan(folder)
    _SCANS[folder] = scan  # most recently used last
    while len(_SCANS) > MAX_FOLDERS:
        _SCANS.popitem(last=False)
    return scan.sources()


def forget_folder(folder: Path) -> None:
    """Drop what is cached for `folder` (its run ended)."""
    _SCANS.pop(Path(folder), None)


_SCANS: OrderedDict[Path, _FolderScan] = OrderedDict()
_reader_module = None  # runners.metrics.tensorboard_reader once imported
_import_error: str | None = None  # why it could not be, once tried


def _import_reader():
    global _reader_module, _import_error
    if _reader_module is None and _import_error is None:
        try:
            _reader_module = importlib.import_module("runners.metrics.tensorboard_reader")
        except ImportError as exc:
            _import_error = str(exc)
    return _reader_module


class _FolderScan:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.dir_mtimes: dict[str, int] = {}  # every folder walked, by its modification time
        self.event_files: set[str] = set()
        self.by_name: dict[str, MetricSource] = {}
        self.noted = False

    def sources(self) -> TensorBoardSources:
        self._refresh()
        found = TensorBoardSources()
        new = sorted(self.event_files - {str(s.path) for s in self.by_name.values()})
        if new and _import_reader() is None:
            if not self.noted:
                self.noted = True
                found.note = (
                    f"TensorBoard event files in {self.folder} are not read: {MISSING_EXTRA}"
                    f" ({_import_error})"
                )
            return found
        for path in new:
            source = self._source(path)
            self.by_name[source.name] = source
        found.extend(self.by_name[name] for name in sorted(self.by_name))
        return found

    def _source(self, path: str) -> MetricSource:
        relative = Path(os.path.relpath(path, self.folder))
        return _reader_module.EventFileSource(
            Path(path), SOURCE_PREFIX + relative.as_posix(), self._prefix(Path(path).parent)
        )

    def _prefix(self, directory: Path) -> str:
        """A writer's folder below another writer's folder (add_scalars' sub-writers) prefixes
        its tags with the path between them; a writer's own tags go unprefixed."""
        writer_dirs = {os.path.dirname(p) for p in self.event_files}
        for parent in directory.parents:
            if not parent.is_relative_to(self.folder):
                break
            if str(parent) in writer_dirs:
                return directory.relative_to(parent).as_posix() + "/"
        return ""

    def _refresh(self) -> None:
        if not self.dir_mtimes:
            self._walk(str(self.folder), 0)
            return
        for directory in list(self.dir_mtimes):
            try:
                mtime = os.stat(directory).st_mtime_ns
            except OSError:
                del self.dir_mtimes[directory]  # removed: its files stay read as far as they were
                continue
            if mtime != self.dir_mtimes[directory]:
                self._walk(directory, self._depth(directory))

    def _depth(self, directory: str) -> int:
        return len(Path(directory).relative_to(self.folder).parts)

    def _walk(self, directory: str, depth: int) -> None:
        """List `directory` (again), and walk the folders under it not seen yet."""
        try:
            self.dir_mtimes[directory] = os.stat(directory).st_mtime_ns
            entries = list(os.scandir(directory))
        except OSError:
            self.dir_mtimes.pop(directory, None)
            return
        for entry in entries:
            if entry.name.startswith(EVENT_FILE_MARK) and _is_file(entry):
                self.event_files.add(entry.path)
            elif (
                depth < MAX_DEPTH
                and entry.path not in self.dir_mtimes
                and not entry.name.startswith(".")
                and entry.name not in SKIPPED_DIRS
                and _is_dir(entry)
            ):
                self._walk(entry.path, depth + 1)


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False

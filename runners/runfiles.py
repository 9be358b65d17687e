"""What a run wrote: the folder its target says holds its files, listed, previewed and copied
out without ever leaving that folder (no `..`, no absolute path, no link leading out).

The target says where its runs' files are (`Runner.run_files`): a local process's run folder
(its log, config and the working copy it ran in), a docker run's folder on this machine (its
log, config, metrics and build context), and for SageMaker and Vertex their output in S3 or
GCS where one is configured (`RunFiles.remote`, runners.remotefiles: listed, previewed and
downloaded through the target's SDK).
"""

from __future__ import annotations

import codecs
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from store import BadInput, NotFound, Run, Store

PREVIEW_BYTES = 64 * 1024  # a preview shows the first 64 KiB of a text file
LIST_LIMIT = 10_000  # entries listed at most (a run that wrote a million files lists its start)


MOUNTS = "mounts"  # the top folder under which a run's own mounts are listed


@dataclass(frozen=True)
class RunFiles:
    """Where a run's files are on this machine (`root`, None if nowhere), folders elsewhere
    that are the run's own (`mounts`, by name: a docker run's per-run volume, listed under
    `mounts/NAME`), the object store holding a remote run's files (`remote`, a
    runners.remotefiles.ObjectStore, read only when listed) and what is not listed and why
    (`note`)."""

    root: Path | None
    note: str | None = None
    mounts: dict[str, Path] = field(default_factory=dict)
    remote: object | None = None

    @property
    def where(self) -> str | None:
        """Where the files are, as a user names it: a folder here, or the store's address."""
        if self.remote is not None:
            return self.remote.uri
        return None if self.root is None else str(self.root)


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the root, '/'-separated
    kind: str  # file, dir, link (never followed) or other (a FIFO, a socket…)
    size: int  # bytes; a folder's is the total of the files listed under it

    def to_json(self) -> dict:
        return {"path": self.path, "kind": self.kind, "size": self.size}


@dataclass(frozen=True)
class Preview:
    size: int
    text: str | None  # None: a binary file
    truncated: bool  # the file is longer than what `text` shows


def files_of(store: Store, run: Run) -> RunFiles:
    """Where `run`'s files are, as its target says; a target whose SDK is missing says so."""
    from runners.registry import get_runner

    try:
        runner = get_runner(run.resource)
    except BadInput as exc:
        return RunFiles(None, f"{run.resource} runs' files are not listed: {exc.message}")
    return runner.run_files(run.spec, store.run_dir(run.id))


def list_files(root: Path, limit: int = LIST_LIMIT) -> tuple[list[FileEntry], bool]:
    """Every entry under `root`, folders before their contents, sorted by name; links are
    listed, never followed. Returns (entries, whether the list stopped at `limit`)."""
    entries: list[FileEntry] = []
    truncated = False

    def walk(folder: Path, prefix: str) -> int:
        nonlocal truncated
        total = 0
        try:
            children = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:  # unreadable (or gone while listed): shown empty
            return 0
        for child in children:
            if len(entries) >= limit:
                truncated = True
                return total
            path = prefix + child.name
            if child.is_symlink():
                entries.append(FileEntry(path, "link", 0))
            elif child.is_dir(follow_symlinks=False):
                index = len(entries)
                entries.append(FileEntry(path, "dir", 0))
                size = walk(Path(child.path), path + "/")
                entries[index] = FileEntry(path, "dir", size)
                total += size
            else:
                info = child.stat(follow_symlinks=False)
                kind = "file" if stat.S_ISREG(info.st_mode) else "other"
                entries.append(FileEntry(path, kind, info.st_size))
                total += info.st_size
        return total

    walk(root, "")
    return entries, truncated


def list_run_files(files: RunFiles, limit: int = LIST_LIMIT) -> tuple[list[FileEntry], bool]:
    """The entries of the run's folder, then of its mounts under `mounts/NAME`; a remote
    run's, those of its store (runners.remotefiles.RemoteFilesError when it can't be read)."""
    if files.remote is not None:
        return files.remote.entries(limit)
    entries: list[FileEntry] = []
    truncated = False
    if files.root is not None and files.root.exists():
        entries, truncated = list_files(files.root, limit)
    if files.mounts and not truncated:
        top = len(entries)
        entries.append(FileEntry(MOUNTS, "dir", 0))
        total = 0
        for name, folder in sorted(files.mounts.items()):
            inside, truncated = list_files(folder, max(0, limit - len(entries) - 1))
            size = sum(e.size for e in inside if e.kind != "dir")
            entries.append(FileEntry(f"{MOUNTS}/{name}", "dir", size))
            entries += [FileEntry(f"{MOUNTS}/{name}/{e.path}", e.kind, e.size) for e in inside]
            total += size
            if truncated:
                break
        entries[top] = FileEntry(MOUNTS, "dir", total)
    return entries, truncated


def resolve_run_path(files: RunFiles, path: str, run_id: str) -> Path:
    """`path` as `runs files` lists it: in one of the run's mounts (`mounts/NAME/…`) or in its
    folder; refused as `resolve` says."""
    parts = PurePosixPath(path).parts
    if len(parts) >= 2 and parts[0] == MOUNTS and parts[1] in files.mounts:
        return resolve(files.mounts[parts[1]], "/".join(parts[2:]), run_id)
    if files.root is None:
        raise BadInput("RUN", f"run {run_id}: {files.note}")
    return resolve(files.root, path, run_id)


def checked_parts(path: str, run_id: str) -> tuple[str, ...]:
    """The parts of `path`, refused (BadInput, naming PATH) if it is absolute or climbs out
    with `..`; () for the whole of the run's files."""
    where = f"expected a path inside run {run_id}'s files"
    if not path or path.strip() in ("", "."):
        return ()
    if PurePosixPath(path).is_absolute() or Path(path).is_absolute():
        raise BadInput("PATH", f"{path!r} is absolute; {where}")
    parts = tuple(p for p in PurePosixPath(path).parts if p != ".")
    if ".." in parts:
        raise BadInput("PATH", f"{path!r} climbs out with '..'; {where}")
    return parts


def resolve(root: Path, path: str, run_id: str) -> Path:
    """`path` inside `root`, refused (BadInput, naming PATH) if it is absolute, climbs out with
    `..` or leads out through a link; NotFound if there is nothing there."""
    where = f"expected a path inside run {run_id}'s files"
    parts = checked_parts(path, run_id)
    if not parts:
        return root
    target = root.joinpath(*parts)
    real_root = root.resolve()
    real = target.resolve()
    if real != real_root and real_root not in real.parents:
        raise BadInput("PATH", f"{path!r} leads out of the run's files through a link; {where}")
    if not target.exists() and not target.is_symlink():
        raise NotFound("PATH", f"run {run_id} has no file {path!r}")
    return target


def preview(file: Path, max_bytes: int = PREVIEW_BYTES) -> Preview:
    """The start of a file as text, or None for a binary one (a NUL byte, or no UTF-8)."""
    size = file.stat().st_size
    with file.open("rb") as handle:
        return decoded(handle.read(max_bytes), size)


def preview_run_file(files: RunFiles, path: str, run_id: str) -> Preview:
    """The start of the run's file `path`, here or in its store."""
    if files.remote is not None:
        return files.remote.preview(path, run_id, PREVIEW_BYTES)
    return preview(resolve_run_path(files, path, run_id))


def decoded(head: bytes, size: int) -> Preview:
    """The first bytes of a file of `size` bytes as text, or None for a binary one."""
    if b"\0" in head:
        return Preview(size, None, False)
    try:
        # Incremental: a multi-byte character cut at max_bytes is no sign of a binary file.
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) == size)
    except UnicodeDecodeError:
        return Preview(size, None, False)
    return Preview(size, text, len(head) < size)


def copy_out(files: RunFiles, path: str, dest: Path, run_id: str) -> Path:
    """Copy `path` (a file or a folder) out of the run's files to `dest` (into it, if it is a
    folder); links inside a copied folder stay links. A remote run's files are downloaded.
    Returns what was written."""
    if files.remote is not None:
        return files.remote.copy_out(path, dest, run_id)
    source = resolve_run_path(files, path, run_id)
    if source.is_symlink() and not source.resolve().exists():
        raise NotFound("PATH", f"{path!r} is a broken link")
    if not source.is_dir() and not source.is_file():
        raise BadInput("PATH", f"{path!r} is a FIFO, socket or device; expected a file or folder")
    target = dest / source.name if dest.is_dir() else dest
    if not target.parent.is_dir():
        raise BadInput("DEST", f"{target.parent} is not a folder; expected an existing one")
    try:
        if source.is_dir():
            # Links stay links (a link out is no copy of what it points at); a FIFO inside is
            # skipped by copytree's error list, which names it.
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
    except shutil.Error as exc:
        skipped = ", ".join(str(Path(path) / Path(e[0]).relative_to(source)) for e in exc.args[0])
        raise BadInput("PATH", f"copied to {target} except: {skipped}") from None
    return target

"""Code snapshots: a local directory as a deterministic tar.gz, stored by its sha256.

What it leaves out: `.git`, `__pycache__`, `.venv` and `*.pyc`, and whatever a `.gitignore` or a
`.launchbayignore` (same syntax, read after the `.gitignore` beside it, so it can re-include
with `!`) in the directory or any folder below ignores, with git's rules (pathspec's
GitIgnoreSpec): a file's deepest ignore file that has a say decides, and an ignored folder is
not entered. What a snapshot may hold: regular files, directories, and symbolic links that are
relative and stay inside the directory (kept as links). A link that leads outside it, or is
absolute, and a FIFO, socket or device are refused when the job is created, naming the path:
the run could not unpack them (or, for a FIFO, would block reading it)."""

import gzip
import os
import stat
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from store import BadInput
from store.artifacts import ArtifactStore
from store.paths import make_private_dir

EXCLUDED_NAMES = frozenset({".git", "__pycache__", ".venv"})
EXCLUDED_SUFFIXES = (".pyc",)
IGNORE_FILES = (".gitignore", ".launchbayignore")  # in this order: the second has the last word


@dataclass(frozen=True)
class Snapshot:
    """A stored snapshot: the job's source, and what went in (for `job create` to say)."""

    source: dict
    files: int
    size: int  # bytes of the files that went in, before compression
    ignored: int  # paths an ignore file left out (a folder counts once)


Progress = Callable[[int, int], None]  # (files packed so far, their bytes)


class SnapshotReport(Protocol):
    """Who is told how packing goes (the CLI's progress line and summary)."""

    def progress(self, files: int, size: int) -> None: ...

    def packed(self, snapshot: Snapshot) -> None: ...


def snapshot_directory(path: Path, artifacts: ArtifactStore) -> dict:
    """Store a snapshot of `path`; returns the job source: its digest and what it holds."""
    return pack_directory(path, artifacts).source


def pack_directory(path: Path, artifacts: ArtifactStore, progress: Progress | None = None):
    """Store a snapshot of `path`, calling `progress` as files go in; returns a Snapshot."""
    if not path.exists():
        raise BadInput("PATH", f"{path} does not exist; expected a directory of code")
    if not path.is_dir():
        raise BadInput("PATH", f"{path} is not a directory; expected a directory of code")
    walk = _Walk(path)
    entries = list(walk)
    for relative in entries:
        _check_entry(path, relative)
    files = size = 0
    with tempfile.NamedTemporaryFile(suffix=".tar.gz", delete=False) as tmp:
        tmp_path = Path(tmp.name)
        # mtime=0 and normalised tar headers: the same files always give the same digest, so
        # re-creating an unchanged job adds no version.
        with (
            gzip.GzipFile(filename="", fileobj=tmp, mode="wb", mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for relative in entries:
                full = path / relative
                tar.add(full, arcname=relative.as_posix(), recursive=False, filter=_normalise)
                if not full.is_dir():
                    files += 1
                    size += full.lstat().st_size
                    if progress is not None:
                        progress(files, size)
    try:
        digest = artifacts.put_file(tmp_path)
    finally:
        tmp_path.unlink()
    source = {
        "artifact": digest,
        "files": files,
        "requirements": (path / "requirements.txt").is_file(),
    }
    return Snapshot(source, files, size, walk.ignored)


class _Walk:
    """The paths of a snapshot, relative, sorted, folders before their contents; counts what
    the ignore files left out."""

    def __init__(self, root: Path):
        self.root = root
        self.ignored = 0

    def __iter__(self):
        # (folder relative to root, its spec), shallowest first, for the folder being walked
        specs: dict[Path, list] = {}
        for folder, dirs, names in os.walk(self.root):
            base = Path(folder).relative_to(self.root)
            specs[base] = _ignore_specs(Path(folder))
            chain = [(p, specs[p]) for p in (*reversed(base.parents), base) if specs.get(p)]
            kept_dirs = []
            for d in sorted(dirs):
                if d in EXCLUDED_NAMES:
                    continue
                if _ignored(chain, base / d, is_dir=True):
                    self.ignored += 1
                    continue
                kept_dirs.append(d)
            dirs[:] = kept_dirs
            for d in dirs:
                yield base / d
            for name in sorted(names):
                if name in EXCLUDED_NAMES or name.endswith(EXCLUDED_SUFFIXES):
                    continue
                if _ignored(chain, base / name, is_dir=False):
                    self.ignored += 1
                    continue
                yield base / name


def _ignore_specs(folder: Path) -> list:
    """The GitIgnoreSpecs of the ignore files in `folder`, in IGNORE_FILES' order."""
    found = [folder / name for name in IGNORE_FILES if (folder / name).is_file()]
    if not found:
        return []
    import pathspec  # only for a directory that has an ignore file

    specs = []
    for file in found:
        try:
            lines = file.read_text(errors="replace").splitlines()
        except OSError as exc:
            raise BadInput("PATH", f"{file} cannot be read: {exc.strerror}") from None
        specs.append(pathspec.GitIgnoreSpec.from_lines(lines))
    return specs


def _ignored(chain: list, relative: Path, is_dir: bool) -> bool:
    """Whether the ignore files above `relative` leave it out: the deepest one (and in one
    folder, the last file) whose patterns match it decides, as in git."""
    for base, specs in reversed(chain):
        text = relative.relative_to(base).as_posix() + ("/" if is_dir else "")
        for spec in reversed(specs):
            result = spec.check_file(text)
            if result.include is not None:
                return result.include
    return False


def _check_entry(root: Path, relative: Path) -> None:
    """Refuse what the snapshot could not carry to the run (see the module's docstring)."""
    full = root / relative
    mode = full.lstat().st_mode
    if stat.S_ISLNK(mode):
        link = os.readlink(full)
        target = os.path.normpath(os.path.join(os.path.dirname(full), link))
        inside = os.path.commonpath([os.path.abspath(root), os.path.abspath(target)])
        if os.path.isabs(link) or inside != os.path.abspath(root):
            raise BadInput(
                "PATH",
                f"{full} is a symbolic link to {link}, outside {root}; expected links that stay"
                " inside the directory (copy the file in instead)",
            )
    elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise BadInput(
            "PATH",
            f"{full} is a {_kind(mode)}; expected only files, directories and links inside {root}",
        )


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device file"


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.pax_headers = {}
    return info


def extract_snapshot(archive: Path, target: Path) -> None:
    """Unpack a snapshot into `target`; the 'data' filter refuses paths that escape it."""
    make_private_dir(target)  # 0700 whatever the umask; the "data" filter drops g/o write bits
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(target, filter="data")

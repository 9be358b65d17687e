"""Code snapshots: a local directory as a deterministic tar.gz, stored by its sha256.

What a snapshot may hold: regular files, directories, and symbolic links that are relative and
stay inside the directory (kept as links). A link that leads outside it, or is absolute, and a
FIFO, socket or device are refused when the job is created, naming the path: the run could not
unpack them (or, for a FIFO, would block reading it)."""

import gzip
import os
import stat
import tarfile
import tempfile
from pathlib import Path

from store import BadInput
from store.artifacts import ArtifactStore
from store.paths import make_private_dir

EXCLUDED_NAMES = frozenset({".git", "__pycache__", ".venv"})
EXCLUDED_SUFFIXES = (".pyc",)


def snapshot_directory(path: Path, artifacts: ArtifactStore) -> dict:
    """Store a snapshot of `path`; returns the job source: its digest and what it holds."""
    if not path.exists():
        raise BadInput("PATH", f"{path} does not exist; expected a directory of code")
    if not path.is_dir():
        raise BadInput("PATH", f"{path} is not a directory; expected a directory of code")
    entries = list(_walk(path))
    for relative in entries:
        _check_entry(path, relative)
    files = 0
    with tempfile.NamedTemporaryFile(suffix=".tar.gz", delete=False) as tmp:
        tmp_path = Path(tmp.name)
        # mtime=0 and normalised tar headers: the same files always give the same digest, so
        # re-creating an unchanged job adds no version.
        with (
            gzip.GzipFile(filename="", fileobj=tmp, mode="wb", mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for relative in entries:
                tar.add(
                    path / relative, arcname=relative.as_posix(), recursive=False, filter=_normalise
                )
                files += not (path / relative).is_dir()
    try:
        digest = artifacts.put_file(tmp_path)
    finally:
        tmp_path.unlink()
    return {
        "artifact": digest,
        "files": files,
        "requirements": (path / "requirements.txt").is_file(),
    }


def _walk(root: Path):
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_NAMES)
        base = Path(folder).relative_to(root)
        for d in dirs:
            yield base / d
        for name in sorted(names):
            if name in EXCLUDED_NAMES or name.endswith(EXCLUDED_SUFFIXES):
                continue
            yield base / name


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

"""A remote run's files in an object store (S3 for SageMaker, GCS for Vertex): listed as the
same tree with sizes as a local run's (runners.runfiles), previewed, and copied out (downloaded)
with the same refusals. A target's own package says how to reach its store (an `ObjectStore`
whose three calls go through its SDK adaptor); what is shared (the tree, the checks, the
download of a folder) is here.

An object store has no folders: `a/b/c.txt` is one key. The folders shown are the keys' own
`/`-separated parts, and a key that would leave the folder it is copied into (`..`, an empty
part) is never written.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from store import BadInput, NotFound


class RemoteFilesError(Exception):
    """Reading the store failed (no credentials, the bucket gone, the network): one line that
    names the store's address."""


@dataclass(frozen=True)
class StoredObject:
    key: str  # relative to the run's prefix, '/'-separated
    size: int


class ObjectStore(abc.ABC):
    """Everything under `uri` (`s3://bucket/prefix/`, `gs://bucket/prefix/`): the run's files."""

    def __init__(self, uri: str):
        scheme, _, rest = uri.partition("://")
        bucket, _, prefix = rest.partition("/")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.uri = f"{scheme}://{bucket}/{self.prefix}"

    @abc.abstractmethod
    def objects(self, under: str) -> Iterator[StoredObject]:
        """Every object whose key starts with prefix + `under`, page after page; keys relative
        to the prefix. Raises RemoteFilesError."""

    @abc.abstractmethod
    def read_head(self, key: str, max_bytes: int) -> tuple[int, bytes]:
        """(the object's size, its first `max_bytes` bytes). Raises RemoteFilesError."""

    @abc.abstractmethod
    def download(self, key: str, dest: Path) -> None:
        """Write the object to the file `dest`. Raises RemoteFilesError."""

    # -- shared ------------------------------------------------------------------------------

    def entries(self, limit: int) -> tuple[list, bool]:
        """The run's files as runners.runfiles lists a folder: folders (with the total of the
        files under them) before their contents, sorted by name; at most `limit` entries."""
        objects: list[StoredObject] = []
        truncated = False
        for stored in self.objects(""):
            if len(objects) >= limit:
                truncated = True
                break
            objects.append(stored)
        entries = tree_of(objects)
        return entries[:limit], truncated or len(entries) > limit

    def preview(self, path: str, run_id: str, max_bytes: int):
        from runners.runfiles import decoded

        key = checked_key(path, run_id)
        if not key or self._find(key, run_id) != "file":
            raise BadInput("PATH", f"{path!r} is a folder; expected a file to preview")
        size, head = self.read_head(key, max_bytes)
        return decoded(head, size)

    def copy_out(self, path: str, dest: Path, run_id: str) -> Path:
        """Download `path` (an object, or every object under the folder `path`) to `dest`
        (into it, if it is a folder). Returns what was written."""
        key = checked_key(path, run_id)
        kind = self._find(key, run_id) if key else "dir"
        name = PurePosixPath(key).name if key else PurePosixPath(self.prefix).name or self.bucket
        target = dest / name if dest.is_dir() else dest
        if not target.parent.is_dir():
            raise BadInput("DEST", f"{target.parent} is not a folder; expected an existing one")
        if kind == "file":
            self.download(key, target)
            return target
        under = f"{key}/" if key else ""
        skipped = []
        for stored in self.objects(under):
            inside = stored.key[len(under) :]
            parts = inside.split("/")
            if not inside or inside.endswith("/"):
                continue  # a folder marker (made by a console): nothing to write
            if ".." in parts or "" in parts or "." in parts:
                skipped.append(stored.key)  # would land elsewhere than under `target`
                continue
            file = target.joinpath(*parts)
            file.parent.mkdir(parents=True, exist_ok=True)
            self.download(stored.key, file)
        target.mkdir(exist_ok=True)  # an empty folder copied is an empty folder
        if skipped:
            raise BadInput("PATH", f"copied to {target} except: {', '.join(skipped)}")
        return target

    def _find(self, key: str, run_id: str) -> str:
        """`file` if an object is at `key`, `dir` if objects are under `key/`; NotFound else."""
        for stored in self.objects(key):
            if stored.key == key:
                return "file"
            if stored.key.startswith(key + "/"):
                return "dir"
        raise NotFound("PATH", f"run {run_id} has no file {key!r}")


def checked_key(path: str, run_id: str) -> str:
    """`path` as a key under the run's prefix, refused as runners.runfiles.resolve refuses a
    local path ('' for the whole prefix)."""
    from runners.runfiles import checked_parts

    return "/".join(checked_parts(path, run_id))


def tree_of(objects: list[StoredObject]) -> list:
    """FileEntry rows for `objects`: each folder once, before its contents, with the total size
    of the files under it; a folder marker (a key ending in '/') is a folder."""
    from runners.runfiles import FileEntry

    sizes: dict[str, int] = {}
    files: dict[str, int] = {}
    for stored in objects:
        parts = [p for p in stored.key.split("/") if p]
        if not parts:
            continue
        path = "/".join(parts)
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            sizes[folder] = sizes.get(folder, 0) + (0 if stored.key.endswith("/") else stored.size)
        if stored.key.endswith("/"):
            sizes.setdefault(path, 0)
        else:
            files[path] = stored.size

    children: dict[str, list[str]] = {}
    for path in [*sizes, *files]:
        parent, _, name = path.rpartition("/")
        children.setdefault(parent, []).append(name)

    entries: list = []

    def walk(parent: str) -> None:
        for name in sorted(set(children.get(parent, []))):
            path = f"{parent}/{name}" if parent else name
            if path in sizes:
                entries.append(FileEntry(path, "dir", sizes[path]))
                walk(path)
            else:
                entries.append(FileEntry(path, "file", files[path]))

    walk("")
    return entries

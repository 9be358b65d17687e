"""Content-addressed files beside the database (code snapshots), named by their sha256."""

import hashlib
import os
from pathlib import Path

from .paths import make_private_dir


class ArtifactStore:
    def __init__(self, root: Path):
        self.root = root

    def path_for(self, digest: str) -> Path:
        return self.root / "sha256" / digest[:2] / digest

    def put_file(self, source: Path) -> str:
        """Copy `source` in (once per content) and return its sha256."""
        sha = hashlib.sha256()
        with open(source, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                sha.update(block)
        digest = sha.hexdigest()
        target = self.path_for(digest)
        if not target.exists():
            import shutil  # imported here: shutil pulls in lzma and bz2, slow for every CLI call
            import tempfile

            make_private_dir(target.parent)  # artifacts/ and below: 0700 whatever the umask
            # Copy to a temporary name then rename: a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            os.close(fd)
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        return digest

    def exists(self, digest: str) -> bool:
        return self.path_for(digest).exists()

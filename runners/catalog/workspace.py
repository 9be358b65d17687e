"""A job's code on disk for one run: a snapshot unpacked, or a git commit checked out."""

from pathlib import Path

from runners.catalog import gitsource
from runners.catalog.snapshots import extract_snapshot
from runners.protocol import RunnerError
from store import JobVersion, Stage


def materialize(job: JobVersion, artifact_path: Path | None, target: Path) -> Path:
    """Put the code of `job` under `target`; returns the directory the job runs in."""
    if job.type == "code":
        if artifact_path is None or not artifact_path.exists():
            raise RunnerError(
                Stage.BUILD,
                f"the code snapshot of {job.ref} is missing from the"
                f" store ({job.source.get('artifact', '?')[:12]}); re-create the job",
            )
        extract_snapshot(artifact_path, target)
        return target
    if job.type == "git":
        return gitsource.checkout(job.source, target)
    raise RunnerError(Stage.BUILD, f"{job.ref} is an image job: it has no code to check out")

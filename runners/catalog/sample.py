"""The sample job and local queue that a fresh store is offered (quickstart, the TUI)."""

import sys
from pathlib import Path

from runners.catalog.jobs import create_job
from runners.catalog.queues import create_queue
from store import NotFound, Queue, Store
from store.jobs import CreatedVersion

SAMPLE_JOB = "sample-train"
SAMPLE_QUEUE = "local"


def sample_job_dir() -> Path:
    return Path(__file__).parent / "sample_job"


def ensure_sample(store: Store) -> tuple[CreatedVersion, Queue]:
    """Create the sample job (idempotent: same content, no new version) and the local queue."""
    folder = sample_job_dir()
    # The interpreter running launchbay is known to exist; a bare `python` may not be on PATH.
    job = create_job(
        store,
        "code",
        SAMPLE_JOB,
        str(folder),
        entrypoint=f"{Path(sys.executable).name} main.py"
        if _on_path(sys.executable)
        else f"{sys.executable} main.py",
        schema_path=str(folder / "schema.json"),
        description="A tiny training loop that prints its config and a falling loss",
    )
    try:
        queue = store.queues.get(SAMPLE_QUEUE)
    except NotFound:
        queue = create_queue(store, SAMPLE_QUEUE, "local-process")
    return job, queue


def _on_path(executable: str) -> bool:
    import shutil

    found = shutil.which(Path(executable).name)
    return found is not None and Path(found).resolve() == Path(executable).resolve()

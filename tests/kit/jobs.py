"""Making jobs, queues and launches in a store, as the catalog and the launch path do."""

import sys
import textwrap
from pathlib import Path

from store import Store

PYTHON_ENTRYPOINT = f"{sys.executable} main.py"


def write_code_job(folder: Path, script: str, requirements: str | None = None) -> Path:
    """A directory with main.py holding `script` (dedented)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(textwrap.dedent(script))
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements)
    return folder


def make_code_job(store: Store, tmp_path: Path, name: str, script: str, **kwargs):
    """Create a code job running `script` with this interpreter; returns the JobVersion."""
    from runners.catalog.jobs import create_job

    folder = write_code_job(tmp_path / f"src-{name}", script)
    return create_job(
        store, "code", name, str(folder), entrypoint=PYTHON_ENTRYPOINT, **kwargs
    ).version


def make_queue(store: Store, name: str = "local", config: dict | None = None, **kwargs):
    from runners.catalog.queues import check_queue_config

    return store.queues.create(
        name, "local-process", check_queue_config("local-process", config or {}), **kwargs
    )


def launch(store: Store, job: str, queue: str = "local", **kwargs) -> int:
    from runners.launch.request import LaunchRequest, enqueue, prepare_launch

    return enqueue(store, prepare_launch(store, LaunchRequest(job=job, queue=queue, **kwargs)))


def claimed_run(store: Store, tmp_path: Path, run_id: str, spec: dict | None = None, gpus=()):
    """A run `run_id` claimed from a fresh item of job `train` on queue `local` (made on first
    use), holding `gpus` ((device, index) pairs), as an agent's claim leaves it; nothing runs."""
    from store import NotFound

    try:
        queue = store.queues.get("local")
        job = store.jobs.resolve("train")
    except NotFound:
        job = make_code_job(store, tmp_path, "train", "pass")
        queue = make_queue(store)
    store.items.enqueue(queue.id, job.id, job.ref, {})
    item = store.items.lease_next(queue, "a1")
    assert store.items.claim_with_run(item, "a1", run_id, "local-process", spec or {}, gpus)
    return run_id

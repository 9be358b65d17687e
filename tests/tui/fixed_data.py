"""Fixed data for the app's tests, snapshots and screenshots: same ids, same times, every run.

`seed(store, tmp_path)` makes two jobs (one with an input schema), three queues (one paused,
one with template variables), runs in every state and a few waiting items, all stamped
relative to tui/conftest.FIXED_NOW.
"""

import json
from pathlib import Path

from runners.catalog.jobs import create_job
from runners.catalog.queues import check_queue_config
from store import Priority, RunState, Store

FIXED_NOW = 1_790_000_000.0

SCHEMA = {
    "type": "object",
    "properties": {
        "lr": {
            "type": "number",
            "default": 0.001,
            "minimum": 0,
            "maximum": 1,
            "description": "learning rate",
        },
        "epochs": {"type": "integer", "default": 10, "minimum": 1, "maximum": 1000},
        "optimizer": {"type": "string", "enum": ["adam", "sgd"], "default": "adam"},
    },
}

# (run id, job, queue, final state, exit code, minutes ago created, seconds it ran)
RUNS = [
    ("k3x9mf2a", "train", "gpu-box", "running", None, 2, None),
    ("h7wq4nzp", "train", "gpu-box", "finished", 0, 35, 1260),
    ("c2vb8rte", "evaluate", "cpu", "failed", 3, 50, 95),
    ("m5ty6uio", "train", "gpu-box", "stopped", 143, 90, 400),
    ("p9as2dfg", "evaluate", "cpu", "finished", 0, 180, 61),
    ("w4zx7cvb", "train", "gpu-box", "crashed", None, 300, 30),
]


def seed(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "fixed-src"
    src.mkdir(exist_ok=True)
    (src / "main.py").write_text("print('training')\n")
    schema = tmp_path / "fixed-schema.json"
    schema.write_text(json.dumps(SCHEMA))
    create_job(
        store,
        "code",
        "train",
        str(src),
        entrypoint="python main.py",
        schema_path=str(schema),
        aliases=("prod",),
        description="Fine-tune the base model",
    )
    (src / "eval.py").write_text("print('evaluating')\n")
    create_job(
        store,
        "code",
        "evaluate",
        str(src),
        entrypoint="python eval.py",
        description="Score a checkpoint on the held-out set",
    )
    _queue(
        store,
        "gpu-box",
        {
            "resource_args": {"env": {"CUDA_VISIBLE_DEVICES": "{{gpus}}"}},
            "template_variables": {
                "gpus": {"type": "string", "default": "0", "description": "device ids"}
            },
        },
        max_concurrency=2,
    )
    _queue(store, "cpu", {})
    _queue(store, "nightly", {})
    store.queues.set_paused("nightly", True)
    for run_id, job, queue, state, exit_code, minutes, ran in RUNS:
        _run(store, run_id, job, queue, state, exit_code, FIXED_NOW - minutes * 60, ran)
    for job, queue, priority in [
        ("train", "gpu-box", Priority.HIGH),
        ("train", "gpu-box", Priority.MEDIUM),
        ("evaluate", "nightly", Priority.LOW),
    ]:
        item_id = store.items.enqueue(
            store.queues.get(queue).id,
            store.jobs.resolve(job).id,
            store.jobs.resolve(job).ref,
            {"run_config": {}},
            priority,
        )
        store.conn.execute(
            "UPDATE queue_items SET created_at = ? WHERE id = ?",
            (FIXED_NOW - 60 * item_id, item_id),
        )
    stamp = FIXED_NOW - 3600
    store.conn.execute("UPDATE jobs SET created_at = ?", (stamp,))
    store.conn.execute("UPDATE job_versions SET created_at = ?", (stamp,))
    store.conn.execute("UPDATE queues SET created_at = ?", (stamp,))


def _queue(store: Store, name: str, config: dict, **kwargs) -> None:
    store.queues.create(
        name, "local-process", check_queue_config("local-process", config), **kwargs
    )


def _run(store, run_id, job, queue, state, exit_code, created, ran) -> None:
    version = store.jobs.resolve(job)
    queue_row = store.queues.get(queue)
    item_id = store.items.enqueue(queue_row.id, version.id, version.ref, {"run_config": {}})
    item = store.items.lease_next(queue_row, "fixed-agent")
    assert item.id == item_id
    spec = {
        "run_id": run_id,
        "job": {"ref": version.ref},
        "queue": queue,
        "entry_point": version.entrypoint,
        "args": [],
        "run_config": {"lr": 0.001},
        "resource_args": {"env": {"HF_TOKEN": "hf_secret_value"}},
        "env": {},
    }
    store.items.claim_with_run(item, "fixed-agent", run_id, "local-process", spec)
    store.runs.transition(
        run_id, RunState.RUNNING, "submitted", handle={"pid": 4242, "start_time": 1}
    )
    if state == "stopped":
        store.runs.request_stop(run_id, "cancel requested by user")
    if state != "running":
        failed = state in ("failed", "crashed")
        store.runs.transition(
            run_id,
            RunState(state),
            f"exited with code {exit_code}" if exit_code is not None else "process vanished",
            exit_code=exit_code,
            error_stage="run" if failed else None,
            error_message="exited with code 3"
            if state == "failed"
            else ("process vanished" if failed else None),
        )
    ended = None if ran is None else created + 5 + ran
    store.conn.execute(
        "UPDATE runs SET created_at = ?, started_at = ?, ended_at = ? WHERE id = ?",
        (created, created + 5, ended, run_id),
    )
    store.conn.execute("UPDATE run_events SET at = ? WHERE run_id = ?", (created, run_id))
    store.conn.execute(
        "UPDATE queue_items SET created_at = ?, updated_at = ? WHERE id = ?",
        (created - 1, created, item_id),
    )


def seed_metrics(store: Store, run_id: str = "h7wq4nzp") -> None:
    """Three curves for the charts: a noisy falling loss, a sparse accuracy, a warm-up lr."""
    from store.metrics import Point

    store.metrics.append(
        run_id,
        [Point("loss", 2.0 * 0.98**i + 0.05 * (i % 7) / 7, step=i) for i in range(300)]
        + [Point("val/accuracy", 1 - 0.9 * 0.97**i, step=i) for i in range(0, 300, 10)]
        + [Point("lr", 0.001 * min(1.0, (i + 1) / 50), step=i) for i in range(300)],
    )


COMPARED = ("h7wq4nzp", "m5ty6uio", "k3x9mf2a")  # three runs of train, three learning rates


def seed_comparison(store: Store) -> None:
    """Curves and configs for comparing COMPARED: the same job at lr 0.001, 0.003 and 0.0003
    (the last still running), as a sweep by hand leaves them."""
    import json

    from store.metrics import Point

    seed_metrics(store)
    for run_id, lr, steps in (("m5ty6uio", 0.003, 200), ("k3x9mf2a", 0.0003, 120)):
        store.metrics.append(
            run_id,
            [Point("loss", 2.0 * (1 - lr * 20) ** i + 0.3 * lr * 100, step=i) for i in range(steps)]
            + [Point("val/accuracy", 0.8 - 0.7 * 0.95**i, step=i) for i in range(0, steps, 10)],
        )
    # h7wq4nzp keeps its config ({"lr": 0.001}): the launch form's shot relaunches it.
    for run_id, lr in (("m5ty6uio", 0.003), ("k3x9mf2a", 0.0003)):
        spec = store.runs.get(run_id).spec
        spec["run_config"] = {"lr": lr, "warmup": 100}
        store.conn.execute("UPDATE runs SET spec = ? WHERE id = ?", (json.dumps(spec), run_id))


def seed_files(store: Store, run_id: str = "h7wq4nzp") -> None:
    """What a finished run wrote: its config, its working copy and outputs (a text file to
    preview, a binary checkpoint), with fixed contents and sizes."""
    import json

    folder = store.run_dir(run_id)
    files = {
        "config.json": json.dumps({"epochs": 10, "lr": 0.001}, indent=2) + "\n",
        "work/main.py": "import json, os\n\nprint('training')\n",
        "work/requirements.txt": "numpy\n",
        "work/outputs/metrics.json": json.dumps(
            {"epoch": 10, "loss": 0.2147, "val/accuracy": 0.912}, indent=2
        )
        + "\n",
        "work/outputs/train.log": "".join(f"epoch {i}/10 done\n" for i in range(1, 11)),
    }
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    with (folder / "work" / "outputs" / "model.pt").open("wb") as checkpoint:
        checkpoint.write(b"PK\x03\x04\0")
        checkpoint.truncate(48 * 1024 * 1024)  # sparse: 48 MiB in no time

"""Input-schema validation on the launch path: 1,000 dry-run launches in process.

Each launch is what `launchbay launch --dry-run -c SPEC` does after parsing its flags:
`prepare_launch` (which checks the run config against the job's input schema and fills its
defaults) then `preview` (the rendered spec). Reported: the loop for a job with an input schema,
against the same loop for the same job without one (the baseline, measured in the same run,
interleaved), and the run config's check alone (`build_run_config`); each the median of 3
rounds. The schema is the shape a pydantic model gives: a nested object, bounds, an enum,
defaults.
"""

import _common  # noqa: I001  (first: fixes sys.path so that `queue` is the stdlib's)

import json
import tempfile
import time
from pathlib import Path

from runners.catalog.jobs import create_job
from runners.catalog.queues import create_queue
from runners.launch.request import LaunchRequest, prepare_launch, preview
from runners.launch.schema import build_run_config
from store import Store

SCHEMA = {
    "type": "object",
    "properties": {
        "lr": {"type": "number", "minimum": 0, "default": 0.01},
        "epochs": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10},
        "optimizer": {"type": "string", "enum": ["adam", "sgd", "adamw"], "default": "adam"},
        "seed": {"type": "integer", "default": 0},
        "tags": {"type": "array", "items": {"type": "string"}, "default": []},
        "model": {
            "type": "object",
            "properties": {
                "layers": {"type": "integer", "minimum": 1, "default": 4},
                "width": {"type": "integer", "minimum": 8, "default": 256},
                "dropout": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.1},
            },
            "default": {"layers": 4},
        },
    },
}


def configs(n: int) -> list[dict]:
    """n distinct run configs, all valid: each launch sees a new value, as a sweep would."""
    return [
        {"lr": 0.001 * (i % 50 + 1), "epochs": i % 900 + 1, "model": {"width": 8 + i % 512}}
        for i in range(n)
    ]


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    n = 100 if args.quick else 1000
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "lb.db")
        try:
            code = Path(folder) / "code"
            code.mkdir()
            (code / "main.py").write_text("print('hello')\n")
            schema_path = Path(folder) / "schema.json"
            schema_path.write_text(json.dumps(SCHEMA))
            create_job(store, "code", "train", str(code), schema_path=str(schema_path))
            create_job(store, "code", "plain", str(code))
            create_queue(store, "local", "local-process")
            runs = configs(n)
            loops, baselines, validations = [], [], []
            for _ in range(3):
                loops.append(launch_loop(store, "train", runs))
                baselines.append(launch_loop(store, "plain", runs))
                start = time.perf_counter()
                for run_config in runs:
                    build_run_config(SCHEMA, run_config)
                validations.append(time.perf_counter() - start)
        finally:
            store.close()
    loop, baseline = _common.median(loops), _common.median(baselines)
    _common.emit(
        "launch_schema.dry_run_launches",
        loop,
        "s",
        launches=n,
        baseline_no_schema=baseline,
        ratio=loop / baseline,
    )
    _common.emit("launch_schema.dry_run_launch_each", loop / n * 1e3, "ms")
    _common.emit("launch_schema.run_config_check_each", _common.median(validations) / n * 1e6, "us")


def launch_loop(store: Store, job: str, runs: list[dict]) -> float:
    """Seconds to prepare and preview one dry-run launch of `job` per run config."""
    start = time.perf_counter()
    for run_config in runs:
        spec = {"overrides": {"run_config": run_config}}
        preview(store, prepare_launch(store, LaunchRequest(job=job, queue="local", spec=spec)))
    return time.perf_counter() - start


if __name__ == "__main__":
    main()

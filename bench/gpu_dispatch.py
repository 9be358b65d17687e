"""What handing out GPUs adds to dispatch: enqueue -> process started, for a local-process
queue whose runs ask for no GPU (the baseline) and for one whose runs ask for one of 8 declared
GPUs (placement, the allocation row in the claim's transaction, CUDA_VISIBLE_DEVICES), with the
agent in a thread of this process. The two are measured in alternating rounds, so that both
see the same machine; the figure is the difference of the medians (target: at most 1 ms).
"""

import _common  # noqa: I001  (first: fixes sys.path so that `queue` is the stdlib's)

import os
import tempfile
from pathlib import Path

from bench.dispatch import QUEUE, probe_entrypoint, sample_latencies
from runners.catalog.jobs import create_job
from runners.catalog.queues import create_queue
from runners.launch.request import LaunchRequest, prepare_launch
from store import Store

DECLARED = "".join(
    f"  - {{index: {i}, name: NVIDIA H100, memory_mib: 81920, uuid: GPU-{i}}}\n" for i in range(8)
)


def latencies(folder: Path, entrypoint: str, gpus: int, n: int) -> list[float]:
    store = Store.open(folder / "lb.db")
    try:
        code = folder / "code"
        code.mkdir()
        (code / "README").write_text("a code job whose entrypoint is a system command\n")
        create_job(store, "code", "probe", str(code), entrypoint=entrypoint)
        config = folder / "queue.yaml"
        # The baseline names no GPUs at all: the agent's GPU path is skipped entirely.
        config.write_text(f"resource_args: {{gpus: {gpus}}}\n" if gpus else "resource_args: {}\n")
        create_queue(store, QUEUE, "local-process", str(config))
        prepared = prepare_launch(store, LaunchRequest(job="probe", queue=QUEUE))
        with _common.agent_in_thread(store.path, QUEUE):
            return sample_latencies(store, prepared, folder, n)
    finally:
        store.close()


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    rounds, per_round = (2, 10) if args.quick else (8, 25)
    entrypoint = probe_entrypoint()
    samples: dict[int, list[float]] = {0: [], 1: []}
    with tempfile.TemporaryDirectory(prefix="lb-bench-gpu-") as tmp:
        config_dir = Path(tmp) / "config"
        config_dir.mkdir()
        (config_dir / "config.yaml").write_text("gpus:\n" + DECLARED)
        os.environ["LAUNCHBAY_CONFIG_DIR"] = str(config_dir)
        for round_ in range(rounds):
            for gpus in (0, 1):
                folder = Path(tmp) / f"r{round_}-g{gpus}"
                folder.mkdir()
                samples[gpus] += latencies(folder, entrypoint, gpus, per_round)
    baseline, with_gpu = _common.median(samples[0]), _common.median(samples[1])
    _common.emit(
        "gpu_dispatch.latency_median",
        with_gpu,
        "ms",
        n=len(samples[1]),
        baseline=baseline,
        baseline_what="the same queue, runs asking for no GPU (alternating rounds)",
        added_ms=with_gpu - baseline,
        ratio=with_gpu / baseline,
        target="added_ms <= 1",
        meets_target=with_gpu - baseline <= 1,
    )


if __name__ == "__main__":
    main()

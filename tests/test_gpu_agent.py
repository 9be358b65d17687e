"""The agent hands out GPUs: each run sees exactly its devices, an item waits for busy ones and
says why, backfill, time limits, and bad requests refused at launch. Against a declared
inventory (no GPU exists here): the same code as NVML's below the inventory."""

import json
import os
import sqlite3

import pytest
from kit import (
    AgentThread,
    launch,
    log_of,
    make_code_job,
    make_queue,
    run_launchbay,
    run_of,
    wait_for,
)

from runners.agent.waiting import waiting_reasons
from store import BadInput, ItemState, RunState

DECLARED = """\
gpus:
  - {index: 0, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, uuid: GPU-a0}
  - {index: 1, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, uuid: GPU-a1}
  - {index: 2, name: NVIDIA GeForce RTX 4090, memory_mib: 24564, uuid: GPU-r2}
"""

# Prints what CUDA would see, then holds its devices until the file named by its config exists.
HOLDER = """
import json, os, time
print("visible=" + repr(os.environ.get("CUDA_VISIBLE_DEVICES")), flush=True)
print("order=" + os.environ.get("CUDA_DEVICE_ORDER", "-"), flush=True)
gate = json.loads(os.environ["LAUNCHBAY_CONFIG"]).get("gate")
while gate and not os.path.exists(gate):
    time.sleep(0.02)
"""


@pytest.fixture
def gpu_config(config_dir):
    (config_dir / "config.yaml").write_text(DECLARED)
    return config_dir


def _go(store, tmp_path, gpus=None, gate=None, queue="local", **args):
    resource_args = {**({"gpus": gpus} if gpus is not None else {}), **args}
    spec = {
        "resource_args": resource_args,
        "overrides": {"run_config": {"gate": str(gate) if gate else None}},
    }
    return launch(store, "holder", queue=queue, spec=spec)


def _visible(store, run) -> str:
    return wait_for(
        lambda: next(
            (line for line in log_of(store, run.id).splitlines() if line.startswith("visible=")),
            None,
        ),
        what=f"run {run.id} to print what it sees",
    )


def test_each_run_sees_exactly_its_own_devices(store, db_path, tmp_path, gpu_config):
    make_code_job(store, tmp_path, "holder", HOLDER)
    make_queue(store, config={"resource_args": {"gpus": 2}})
    gate = tmp_path / "gate"
    first, second = _go(store, tmp_path, 1, gate), _go(store, tmp_path, 1, gate)
    with AgentThread(db_path, max_jobs=4):
        runs = [run_of(store, i, {RunState.RUNNING}) for i in (first, second)]
        seen = sorted(_visible(store, run) for run in runs)
        assert seen == ["visible='GPU-a0'", "visible='GPU-a1'"]
        assert "order=PCI_BUS_ID" in log_of(store, runs[0].id)
        assert store.gpus.held() == {"GPU-a0": runs[0].id, "GPU-a1": runs[1].id} or (
            store.gpus.held() == {"GPU-a1": runs[0].id, "GPU-a0": runs[1].id}
        )
        gate.touch()
        for item in (first, second):
            assert run_of(store, item).state is RunState.FINISHED
    assert store.gpus.held() == {}


def test_a_run_that_asks_for_no_gpus_sees_an_empty_device_list(
    store, db_path, tmp_path, gpu_config
):
    make_code_job(store, tmp_path, "holder", HOLDER)
    make_queue(store)
    item = _go(store, tmp_path)
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED
    assert "visible=''" in log_of(store, run.id)
    assert store.gpus.of_run(run.id) == []


def test_a_queue_with_gpus_all_gives_every_run_the_agents_devices_unmanaged(
    store, db_path, tmp_path, gpu_config, monkeypatch
):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    make_code_job(store, tmp_path, "holder", HOLDER)
    make_queue(store, config={"resource_args": {"gpus": "all"}})
    item = _go(store, tmp_path)
    with AgentThread(db_path):
        run = run_of(store, item)
    assert "visible='0,1,2'" in log_of(store, run.id)
    assert store.gpus.of_run(run.id) == []


def test_an_item_waits_for_busy_devices_says_why_and_starts_when_they_free(
    store, db_path, tmp_path, gpu_config, cli
):
    make_code_job(store, tmp_path, "holder", HOLDER)
    queue = make_queue(store, config={"resource_args": {"gpus": 2, "gpu_name": "A100"}})
    gate = tmp_path / "gate"
    first = _go(store, tmp_path, 2, gate)
    second = _go(store, tmp_path, 1, tmp_path / "second-gate")
    with AgentThread(db_path, max_jobs=4):
        holder = run_of(store, first, {RunState.RUNNING})
        why = (
            f"waiting for 1 GPU matching 'A100': 0 free (GPU 0 held by run {holder.id},"
            f" GPU 1 held by run {holder.id})"
        )

        def described() -> list:
            waiting = json.loads(cli("queue", "describe", "local", "--json").out)["waiting"]
            return [(w["id"], w["reason"]) for w in waiting]

        # Between two looks the agent leases it for a moment ("leased: an agent is starting
        # it") and gives it back: wait for the answer, never for a while.
        def reason() -> str | None:
            return next((r for i, r in waiting_reasons(store, queue) if i.id == second), None)

        wait_for(lambda: reason() == why, what="the reason")
        wait_for(lambda: described() == [(second, why)], what="describe saying why")
        assert store.items.get(second).state is ItemState.PENDING
        gate.touch()
        assert run_of(store, first).state is RunState.FINISHED
        later = run_of(store, second, {RunState.RUNNING})
        assert _visible(store, later) in ("visible='GPU-a0'", "visible='GPU-a1'")
        (tmp_path / "second-gate").touch()
        run_of(store, second)


def test_a_later_item_starts_ahead_of_a_waiting_head_only_with_backfill(
    store, db_path, tmp_path, gpu_config
):
    make_code_job(store, tmp_path, "holder", HOLDER)
    gate = tmp_path / "gate"
    for name, backfill in (("fifo", False), ("bf", True)):
        make_queue(store, name, config={"resource_args": {"gpus": 3}, "backfill": backfill})
    with AgentThread(db_path, max_jobs=8, queues=["fifo"]):
        holder = run_of(store, _go(store, tmp_path, 2, gate, "fifo"), {RunState.RUNNING})
        head = _go(store, tmp_path, 3, gate, "fifo")  # needs all three: waits for the holder
        small = _go(store, tmp_path, 0, None, "fifo")  # no GPU: could start at once
        # The agent planned the line with both in it: it leased the head and gave it back.
        wait_for(
            lambda: store.items.get(head).updated_at > store.items.get(small).created_at,
            what="the agent to look at the line",
        )
    assert store.runs.find_for_item(small) is None  # nothing overtook the waiting head
    with AgentThread(db_path, max_jobs=8, queues=["bf"]):
        # Backfill: the head waits on a run without a time limit, so it keeps every device it
        # could use: a later item asking for GPU 2 may not start, one with no GPUs may.
        bf_head = _go(store, tmp_path, 3, gate, "bf")
        one_gpu = _go(store, tmp_path, 1, gate, "bf", time_limit=1)
        no_gpus = _go(store, tmp_path, 0, None, "bf")  # planned after one_gpu, in line order
        assert run_of(store, no_gpus).state is RunState.FINISHED
    assert store.runs.find_for_item(one_gpu) is None
    assert store.runs.find_for_item(bf_head) is None
    assert store.gpus.held() == {"GPU-a0": holder.id, "GPU-a1": holder.id}
    gate.touch()


def test_a_run_past_its_time_limit_is_stopped_and_its_devices_freed(
    store, db_path, tmp_path, gpu_config
):
    make_code_job(store, tmp_path, "holder", HOLDER)
    make_queue(store, config={"resource_args": {"gpus": 1}})
    item = _go(store, tmp_path, 1, tmp_path / "never", time_limit=1)
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.STOPPED
    assert "time limit reached (1s)" in [e.message for e in store.runs.events(run.id)][-2]
    assert store.gpus.held() == {}


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ({"gpus": 4}, "resource_args.gpus: 4 GPUs asked for, but this machine has 3"),
        ({"gpus": 1, "gpu_name": "H100"}, "resource_args.gpus: no GPU here matches 'H100'"),
        ({"gpus": -1}, "resource_args.gpus"),
        ({"gpus": 1.5}, "resource_args.gpus"),
        ({"gpus": "many"}, "resource_args.gpus"),
        ({"gpus": 1, "time_limit": "soon"}, "resource_args.time_limit"),
    ],
)
def test_a_request_the_machine_cannot_meet_is_exit_2_and_the_store_unchanged(
    store, db_path, tmp_path, gpu_config, args, why
):
    make_code_job(store, tmp_path, "holder", HOLDER)
    make_queue(store, config={"resource_args": {"gpus": "all"}})
    before = list(sqlite3.connect(db_path).iterdump())
    result = run_launchbay(
        "launch",
        "-j",
        "holder",
        "-q",
        "local",
        "-c",
        _json({"resource_args": args}),
        db=db_path,
        env=dict(os.environ),
    )
    assert result.code == 2, result
    assert len(result.err.splitlines()) == 1 and why in result.err, result.err
    assert list(sqlite3.connect(db_path).iterdump()) == before


def test_a_launch_may_not_ask_for_more_gpus_than_its_queue_gives(store, tmp_path, gpu_config):
    make_code_job(store, tmp_path, "holder", HOLDER)
    make_queue(store, config={"resource_args": {"gpus": 1}})
    with pytest.raises(BadInput) as refused:
        _go(store, tmp_path, 2)
    assert refused.value.field == "resource_args.gpus"
    assert "2 is above the queue's limit of 1" in refused.value.message


def _json(value) -> str:
    import json

    return json.dumps(value)


def test_the_agent_samples_a_running_runs_devices_and_keeps_the_latest_with_it(
    store, db_path, tmp_path, config_dir, monkeypatch
):
    import runners.agent.gpu_dispatch
    import runners.gpus.inventory as nvml
    from runners.gpus.inventory import Gpu, Inventory

    # NVML's answer, as the driver would give it: the one function below the inventory.
    readings = iter(range(10, 100, 1))
    monkeypatch.setattr(
        nvml,
        "read_nvml",
        lambda: Inventory((Gpu(0, "GPU-real", "NVIDIA H100", 81920, 40000, next(readings)),)),
    )
    monkeypatch.setattr(runners.agent.gpu_dispatch, "GPU_SAMPLE_SECONDS", 0.05)
    monkeypatch.setattr(runners.agent.gpu_dispatch, "INVENTORY_TTL_SECONDS", 0.0)
    (config_dir / "config.yaml").write_text("gpus: [0]\n")
    make_code_job(store, tmp_path, "holder", HOLDER)
    make_queue(store, config={"resource_args": {"gpus": 1}})
    gate = tmp_path / "gate"
    item = _go(store, tmp_path, 1, gate)
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        first = wait_for(lambda: store.gpus.of_run(run.id)[0].sampled_at, what="a sample")
        wait_for(lambda: store.gpus.of_run(run.id)[0].sampled_at > first, what="a later one")
        (sample,) = store.gpus.of_run(run.id)
        assert (sample.device, sample.memory_used_mib) == ("GPU-real", 40000)
        assert 10 <= sample.utilization_percent < 100
        gate.touch()
        run_of(store, item)
    assert "visible='GPU-real'" in log_of(store, run.id)

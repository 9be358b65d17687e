"""GPU allocations across agent crashes and between agents sharing one store."""

import itertools
import signal

from kit import agent_process, launch, make_code_job, make_queue, run_of, wait_for

from store import ItemState, RunState

HOLDER = """
import json, os, time
gate = json.loads(os.environ["LAUNCHBAY_CONFIG"]).get("gate")
print("visible=" + os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
while gate and not os.path.exists(gate):
    time.sleep(0.02)
"""


def _go(store, gpus, gate=None):
    spec = {"resource_args": {"gpus": gpus}, "overrides": {"run_config": {"gate": gate}}}
    return launch(store, "holder", spec=spec)


def test_a_re_adopted_run_keeps_its_devices_and_frees_them_when_it_ends(
    store, db_path, tmp_path, declare_gpus
):
    declare_gpus(1)
    make_code_job(store, tmp_path, "holder", HOLDER)
    make_queue(store, config={"resource_args": {"gpus": 1}})
    gate = tmp_path / "gate"
    first, second = _go(store, 1, str(gate)), _go(store, 1)
    crashed = agent_process(db_path, "local")
    try:
        run = run_of(store, first, {RunState.RUNNING})
    finally:
        crashed.send_signal(signal.SIGKILL)
        crashed.wait(timeout=30)
    assert store.gpus.held() == {"GPU-0": run.id}  # the agent died; the run and its GPU live on
    successor = agent_process(db_path, "local")
    try:
        wait_for(
            lambda: store.runs.get(run.id).agent_id not in (None, run.agent_id),
            what="the run to be re-adopted",
        )
        assert store.items.get(second).state is ItemState.PENDING  # GPU 0 is still the run's
        assert store.gpus.held() == {"GPU-0": run.id}
        gate.touch()
        assert run_of(store, first).state is RunState.FINISHED
        assert run_of(store, second).state is RunState.FINISHED
    finally:
        successor.send_signal(signal.SIGTERM)
        successor.wait(timeout=30)
    assert [a.device for a in store.gpus.of_run(store.runs.find_for_item(second).id)] == ["GPU-0"]
    assert store.gpus.held() == {}


def test_two_agents_on_one_store_never_hand_out_a_device_twice(
    store, db_path, tmp_path, declare_gpus
):
    declare_gpus(2)
    make_code_job(store, tmp_path, "holder", HOLDER)
    make_queue(store, config={"resource_args": {"gpus": 2}})
    agents = [agent_process(db_path, "local", "--max-jobs", "2") for _ in range(2)]
    try:
        # Both serve before the first item comes, so that both race for every device.
        wait_for(lambda: len(store.agents.not_stopped()) == 2, what="both agents to serve")
        items = [_go(store, gpus) for gpus in itertools.islice(itertools.cycle((1, 2, 1)), 24)]
        for item in items:
            assert run_of(store, item, timeout=120).state is RunState.FINISHED
    finally:
        for agent in agents:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=30)
    rows = store.conn.execute(
        "SELECT device, allocated_at, released_at, run_id FROM gpu_allocations"
        " ORDER BY device, allocated_at"
    ).fetchall()
    assert len(rows) == sum(store.runs.get(r[3]).id == r[3] for r in rows) == 32
    for before, after in itertools.pairwise(rows):
        if before[0] == after[0]:
            assert before[2] <= after[1], f"{before[0]} held by {before[3]} and {after[3]} at once"
    agents_used = {store.runs.get(r[3]).agent_id for r in rows}
    assert len(agents_used) == 2  # both agents really took part

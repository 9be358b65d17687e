"""GPU placement and allocation rows, against a declared inventory (no GPU exists here; the
code below the inventory is the same for NVML's)."""

import pytest
from kit import make_code_job, make_queue

from runners.gpus.inventory import Gpu, GpuProcess, Inventory, read_nvml
from runners.gpus.placement import GpuRequest, impossible, place
from runners.gpus.settings import GpuSettings, load_inventory
from runners.launch.validation import check_model
from store import BadInput, ItemState, RunState, Store

BUSY = 1024


def _gpus(*names, used=0, processes=()):
    return Inventory(
        tuple(
            Gpu(
                index=i,
                uuid=f"GPU-{i}",
                name=name,
                memory_total_mib=81920,
                memory_used_mib=used,
                processes=processes,
            )
            for i, name in enumerate(names)
        ),
        source="config",
    )


FOUR = _gpus(
    "NVIDIA A100-SXM4-80GB",
    "NVIDIA A100-SXM4-80GB",
    "NVIDIA GeForce RTX 4090",
    "NVIDIA GeForce RTX 4090",
)


def test_a_request_gets_the_lowest_free_devices_and_skips_held_ones():
    placement = place(GpuRequest(2), FOUR, held={"GPU-0": "run-a"}, busy_above_mib=BUSY)
    assert [gpu.index for gpu in placement.gpus] == [1, 2]
    assert placement.placed


def test_a_request_that_cannot_be_met_now_says_what_holds_each_device():
    outside = Inventory(
        FOUR.gpus[:2]
        + (
            Gpu(
                2, "GPU-2", "NVIDIA GeForce RTX 4090", 24564, 9000, None, (GpuProcess(4121, 9000),)
            ),
        ),
    )
    placement = place(GpuRequest(2), outside, held={"GPU-0": "k3x9mf2a"}, busy_above_mib=BUSY)
    assert not placement.placed and placement.gpus == ()
    assert placement.waiting == (
        "waiting for 2 GPUs: 1 free (GPU 0 held by run k3x9mf2a,"
        " GPU 2 used by pid 4121 outside launchbay)"
    )


def test_processes_outside_launchbay_under_the_threshold_leave_a_device_free():
    light = _gpus("A100", used=300, processes=(GpuProcess(77, 300),))
    assert place(GpuRequest(1), light, {}, busy_above_mib=BUSY).placed
    assert not place(GpuRequest(1), light, {}, busy_above_mib=100).placed


def test_a_process_of_unknown_size_counts_the_devices_whole_use():
    unknown = _gpus("A100", used=5000, processes=(GpuProcess(77, None),))
    assert "used by pid 77" in place(GpuRequest(1), unknown, {}, busy_above_mib=BUSY).waiting


def test_name_and_free_memory_narrow_the_choice():
    placement = place(GpuRequest(1, name="4090"), FOUR, {}, busy_above_mib=BUSY)
    assert [gpu.index for gpu in placement.gpus] == [2]
    full = _gpus("A100", "A100", used=80000)
    waiting = place(GpuRequest(1, min_free_mib=2000), full, {}, busy_above_mib=10**6).waiting
    assert waiting == (
        "waiting for 1 GPU with 2000 MiB free: 0 free"
        " (GPU 0 has 1920 MiB free, GPU 1 has 1920 MiB free)"
    )


def test_devices_kept_for_an_earlier_item_are_not_handed_out():
    placement = place(GpuRequest(2), FOUR, {}, BUSY, avoid=frozenset({"GPU-0", "GPU-1"}))
    assert [gpu.index for gpu in placement.gpus] == [2, 3]


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (GpuRequest(5), "5 GPUs asked for, but this machine has 4"),
        (GpuRequest(3, name="4090"), "3 GPUs asked for, but this machine has 2 matching '4090'"),
        (GpuRequest(1, name="H100"), "no GPU here matches 'H100'"),
        (GpuRequest(1, min_free_mib=90000), "90000 MiB free asked for, but the largest GPU"),
    ],
)
def test_a_request_this_machine_can_never_meet_is_said_so(request_, why):
    assert why in impossible(request_, FOUR)
    assert impossible(GpuRequest(0), FOUR) is None
    assert impossible(GpuRequest(4), FOUR) is None


def test_without_a_driver_nvml_gives_an_empty_inventory_and_says_why():
    found = read_nvml()  # nvidia-ml-py is installed; no NVIDIA driver exists on this machine
    assert found.gpus == ()
    assert "NVIDIA driver" in found.note
    assert "no NVIDIA driver here" in impossible(GpuRequest(1), found)


def test_restricting_to_a_gpu_this_machine_lacks_is_refused_naming_the_field():
    with pytest.raises(BadInput) as refused:
        load_inventory(GpuSettings(gpus=[0, 1]))
    assert refused.value.field == "config.gpus"
    assert "GPU 0 does not exist on this machine" in refused.value.message
    kept = load_inventory(GpuSettings(gpus=[0, 2]), read=lambda: FOUR)
    assert [gpu.index for gpu in kept.gpus] == [0, 2]


def test_declared_devices_make_the_inventory_without_nvml():
    settings = GpuSettings.model_validate(
        {
            "gpus": [
                {"index": 0, "name": "A100", "memory_mib": 81920},
                {"index": 1, "name": "4090", "memory_mib": 24564, "uuid": "GPU-x"},
            ]
        }
    )
    inventory = load_inventory(settings, read=lambda: pytest.fail("NVML must not be read"))
    assert [(g.key, g.name) for g in inventory.gpus] == [("0", "A100"), ("GPU-x", "4090")]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"gpus": [-1]}, "config.gpus"),
        ({"gpus": [1.5]}, "config.gpus"),
        ({"gpus": "many"}, "config.gpus"),
        ({"gpus": [0, 0]}, "config.gpus"),
        ({"gpu_busy_above_mib": -5}, "config.gpu_busy_above_mib"),
    ],
)
def test_bad_gpu_settings_are_one_line_naming_the_field(document, field):
    with pytest.raises(BadInput) as refused:
        check_model(GpuSettings, document, "config")
    assert refused.value.field.startswith(field)


def _claimable(store, tmp_path, count=2):
    job = make_code_job(store, tmp_path, "j", "pass")
    queue = make_queue(store)
    items = [store.items.enqueue(queue.id, job.id, job.ref, {}) for _ in range(count)]
    return queue, items


def test_a_claim_records_its_devices_and_ending_the_run_releases_them(store, tmp_path):
    queue, _ = _claimable(store, tmp_path, 1)
    item = store.items.lease_next(queue, "a1")
    assert store.items.claim_with_run(
        item, "a1", "run-1", "local-process", {}, gpus=[("GPU-0", 0), ("GPU-1", 1)]
    )
    assert store.gpus.held() == {"GPU-0": "run-1", "GPU-1": "run-1"}
    store.runs.transition("run-1", RunState.RUNNING)
    assert store.gpus.held() == {"GPU-0": "run-1", "GPU-1": "run-1"}
    store.runs.transition("run-1", RunState.FAILED, "exited with code 1", error_stage="run")
    assert store.gpus.held() == {}
    assert [a.device for a in store.gpus.of_run("run-1")] == ["GPU-0", "GPU-1"]


def test_a_device_is_never_handed_out_twice_and_the_loser_goes_back_in_line(
    store, db_path, tmp_path
):
    queue, (first, second) = _claimable(store, tmp_path)
    other = Store.open(db_path)  # a second agent with its own connection
    try:
        mine = store.items.lease_next(queue, "a1")
        theirs = other.items.lease_next(queue, "a2")
        assert other.items.claim_with_run(
            theirs, "a2", "run-b", "local-process", {}, gpus=[("GPU-1", 1)]
        )
        assert not store.items.claim_with_run(
            mine, "a1", "run-a", "local-process", {}, gpus=[("GPU-0", 0), ("GPU-1", 1)]
        )
    finally:
        other.close()
    assert store.gpus.held() == {"GPU-1": "run-b"}
    assert store.items.get(first).state is ItemState.PENDING
    assert store.conn.execute("SELECT COUNT(*) FROM runs WHERE id = 'run-a'").fetchone()[0] == 0
    again = store.items.lease_next(queue, "a1")
    assert again.id == first  # still at the head of the line


def test_a_database_from_before_gpu_allocations_is_upgraded_keeping_its_rows(db_path, tmp_path):
    import sqlite3

    from store.schema_version import SCHEMA_VERSION

    old = Store.open(db_path)
    make_queue(old, "kept")
    old.close()
    with sqlite3.connect(db_path) as raw:  # back to what launchbay wrote before this table
        raw.executescript(
            "DROP TRIGGER gpu_allocations_release; DROP TABLE gpu_allocations;"
            " DELETE FROM _sqlite_migrations WHERE name = 'm002_gpu_allocations';"
            " PRAGMA user_version = 1;"
        )
    upgraded = Store.open(db_path)
    try:
        assert [queue.name for queue in upgraded.queues.list()] == ["kept"]
        assert upgraded.gpus.held() == {}
        # Every migration applied, this one and those after it (the current version).
        assert upgraded.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        upgraded.close()

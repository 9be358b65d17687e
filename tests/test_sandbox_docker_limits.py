"""A docker queue's limits are ceilings: a launch may lower them, never raise or remove them
(unlimited is a raise), unless the queue names the limit in `raisable_limits`. Every spelling is
compared by its value. Each refusal is one line, exit code 2, the store unchanged; the same
rule holds again when an agent claims the item; a lowered limit really applies."""

import json

import pytest
from kit import (
    AgentThread,
    containers_removed_after,  # noqa: F401  (a fixture)
    docker_queue,
    image_job,
    launch,
    refusal_checker,
    run_of,
)

from store import ItemState, RunState, Store

CAPPED = {
    "memory": "8g",
    "memory_swap": "16g",
    "cpus": 2,
    "pids_limit": 100,
    "shm_size": "128m",
    "gpus": 1,
    "ulimits": {"memlock": 65536, "nofile": {"soft": 1024, "hard": 4096}},
}
GRANTING = {"memory": "8g", "pids_limit": 100, "raisable_limits": ["memory", "gpus"]}
DEVICES = {"gpus": ["0", "1"]}


@pytest.fixture
def limits_world(db_path, declare_gpus):
    declare_gpus(2)  # the capped queue gives each run one GPU
    store = Store.open(db_path)
    try:
        docker_queue(store, "capped", {"resource_args": CAPPED})
        docker_queue(store, "open")
        docker_queue(store, "granting", {"resource_args": GRANTING})
        docker_queue(store, "devices", {"resource_args": DEVICES})
        image_job(store, "img", "true")
    finally:
        store.close()


@pytest.fixture
def refused(limits_world, db_path, cli):
    return refusal_checker(cli, db_path)


def _launch(queue: str, resource_args: dict) -> list[str]:
    return ["launch", "-j", "img", "-q", queue, "-c", json.dumps({"resource_args": resource_args})]


RAISES = [
    ("capped", {"gpus": "all"}, "resource_args.gpus: all is above the queue's limit of 1"),
    ("capped", {"gpus": 2}, "resource_args.gpus: 2 is above", "limit of 1"),
    ("capped", {"gpus": ["0", "1"]}, "resource_args.gpus: 2 is above", "limit of 1"),
    ("capped", {"pids_limit": -1}, "resource_args.pids_limit: unlimited", "limit of 100"),
    ("capped", {"pids_limit": 0}, "resource_args.pids_limit: unlimited", "limit of 100"),
    ("capped", {"pids_limit": 101}, "resource_args.pids_limit: 101 is above", "limit of 100"),
    ("capped", {"memory": "1t"}, "resource_args.memory: 1 TiB is above", "limit of 8 GiB"),
    ("capped", {"memory": "8193m"}, "resource_args.memory: 8.00098 GiB", "limit of 8 GiB"),
    ("capped", {"memory": 8 * 1024**3 + 1}, "resource_args.memory", "limit of 8 GiB"),
    ("capped", {"memory": 0}, "resource_args.memory: unlimited is above", "limit of 8 GiB"),
    ("capped", {"cpus": 2.5}, "resource_args.cpus: 2.5 is above", "limit of 2"),
    ("capped", {"shm_size": "1g"}, "resource_args.shm_size: 1 GiB", "limit of 128 MiB"),
    ("capped", {"memory_swap": -1}, "resource_args.memory_swap: unlimited", "limit of 16 GiB"),
    ("capped", {"memory_swap": "17g"}, "resource_args.memory_swap: 17 GiB", "of 16 GiB"),
    ("capped", {"ulimits": {"memlock": -1}}, "resource_args.ulimits.memlock.soft: unlimited"),
    ("capped", {"ulimits": {"memlock": 65537}}, "resource_args.ulimits.memlock.soft: 65537"),
    (
        "capped",
        {"ulimits": {"nofile": {"soft": 1024, "hard": 8192}}},
        "resource_args.ulimits.nofile.hard: 8192 is above the queue's limit of 4096",
    ),
    ("capped", {"ulimits": {"core": 0}}, "resource_args.ulimits.core: the queue sets no such"),
    ("capped", {"init": False}, "resource_args.init: false would remove the init"),
    ("open", {"gpus": 1}, "resource_args.gpus: 1 asks for GPUs and the queue gives none"),
    ("open", {"shm_size": "65m"}, "resource_args.shm_size: 65 MiB", "limit of 64 MiB"),
    ("open", {"init": False}, "resource_args.init"),
    ("devices", {"gpus": ["2"]}, "resource_args.gpus: ['2'] is not among the queue's GPUs"),
    ("devices", {"gpus": 1}, "resource_args.gpus: 1 is not among the queue's GPUs"),
    ("granting", {"pids_limit": -1}, "resource_args.pids_limit: unlimited", "limit of 100"),
]


@pytest.mark.parametrize(
    ("queue", "resource_args", "fragments"),
    [(queue, args, fragments) for queue, args, *fragments in RAISES],
    ids=[f"{queue}-{json.dumps(args)}" for queue, args, *_ in RAISES],
)
def test_a_launch_cannot_raise_or_remove_a_queue_limit(refused, queue, resource_args, fragments):
    line = refused(_launch(queue, resource_args), *fragments)
    assert "a launch may lower the queue's limits, not raise them" in line
    assert "raisable_limits: [" in line


LOWERINGS = [
    ("capped", {"memory": "8192m"}),  # the same limit, spelt another way
    ("capped", {"memory": 8 * 1024**3}),
    ("capped", {"memory": "1g", "memory_swap": "2g"}),
    ("capped", {"cpus": 1.5, "pids_limit": 50, "shm_size": "64m", "gpus": 1}),
    ("capped", {"gpus": ["3"]}),  # one GPU, whichever: the queue caps the count
    ("capped", {"ulimits": {"memlock": 1024, "nofile": {"soft": 512, "hard": 2048}}}),
    ("capped", {"init": True}),
    ("open", {"memory": "2g", "cpus": 64, "pids_limit": -1, "shm_size": "32m"}),
    ("devices", {"gpus": ["1"]}),
    ("granting", {"memory": "1t", "gpus": "all", "pids_limit": 10}),
    ("granting", {"memory": 0}),
]


@pytest.mark.parametrize(
    ("queue", "resource_args"),
    LOWERINGS,
    ids=[f"{queue}-{json.dumps(args)}" for queue, args in LOWERINGS],
)
def test_a_launch_may_lower_a_limit_or_raise_a_granted_one(limits_world, cli, queue, resource_args):
    result = cli(*_launch(queue, resource_args), "--dry-run")
    assert result.code == 0, result.err


def test_a_launch_cannot_grant_itself_a_raise(refused):
    refused(
        _launch("capped", {"raisable_limits": ["memory"], "memory": "1t"}),
        "resource_args.raisable_limits: can be set only in the queue's own config",
    )


def test_a_queue_limit_lowered_after_the_launch_fails_the_waiting_item_at_claim(
    limits_world, db_path, cli
):
    from kit import run_agent

    from runners.catalog.queues import check_queue_config

    launched = cli(*_launch("granting", {"memory": "16g"}), "--json")
    assert launched.code == 0, launched.err
    item_id = json.loads(launched.out)["id"]
    store = Store.open(db_path)
    try:
        # The owner takes the grant back: the waiting launch's 16g is now above the 8g.
        ungranted = {"resource_args": {**GRANTING, "raisable_limits": []}}
        store.queues.update("granting", config=check_queue_config("docker", ungranted))
        run_agent(db_path, queues=["granting"])
        item = store.items.get(item_id)
        assert item.state is ItemState.FAILED
        assert item.error_stage == "agent"
        assert "resource_args.memory: 16 GiB is above the queue's limit of 8 GiB" in (
            item.error_message
        )
        assert item.run_id is None  # nothing reached the engine
    finally:
        store.close()


@pytest.mark.usefixtures("engine", "containers_removed_after")
def test_a_lowered_limit_applies_to_the_container(store, db_path, engine):
    docker_queue(
        store,
        "kept",
        {"resource_args": {**CAPPED, "gpus": None, "keep_failed_containers": True}},
    )
    # Exits 1, so that the queue keeps the container for inspection.
    image_job(store, "probe", "exit 1")
    item = launch(
        store,
        "probe",
        "kept",
        spec={
            "resource_args": {
                "memory": "64m",
                "memory_swap": "64m",
                "pids_limit": 42,
                "ulimits": {"nofile": {"soft": 256, "hard": 512}},
            }
        },
    )
    with AgentThread(db_path, queues=["kept"]):
        run = run_of(store, item)
    assert run.state is RunState.FAILED, run.error_message
    host = engine.api.inspect_container(run.handle["container"])["HostConfig"]
    assert host["Memory"] == 64 * 1024**2
    assert host["MemorySwap"] == 64 * 1024**2
    assert host["PidsLimit"] == 42
    assert {"Name": "nofile", "Soft": 256, "Hard": 512} in host["Ulimits"]
    assert host["NanoCpus"] == 2 * 10**9  # the queue's, which the launch left alone
    assert host["Init"] is True

"""Why a waiting item waits (runners/agent/waiting.py): each reason, from the store as it stands."""

import os
import socket

import pytest
from kit import make_code_job, make_queue

from runners.agent.waiting import waiting_reasons
from runners.system import procinfo

_run_ids = iter(f"r{n:07d}" for n in range(1, 1000))


@pytest.fixture
def job(store, tmp_path):
    return make_code_job(store, tmp_path, "j", "pass")


def _register_agent(store, agent_id: str, max_jobs: int, queues=()) -> None:
    """An agent that counts as alive: this very process."""
    store.agents.register(
        agent_id,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        pid_start_time=procinfo.start_time(os.getpid()),
        queues=list(queues),
        max_jobs=max_jobs,
    )


def _enqueue(store, queue, job, count: int) -> list[int]:
    return [store.items.enqueue(queue.id, job.id, job.ref, {}) for _ in range(count)]


def _start_run(store, queue, job, agent_id: str) -> str:
    """A live run of `agent_id` in `queue` (claimed from a fresh item)."""
    _enqueue(store, queue, job, 1)
    item = store.items.lease_next(queue, agent_id)
    run_id = next(_run_ids)
    assert store.items.claim_with_run(item, agent_id, run_id, "local-process", {})
    return run_id


def _reasons(store, queue) -> list[str]:
    return [reason for _, reason in waiting_reasons(store, store.queues.get(queue.name))]


def test_items_behind_the_next_one_count_the_items_ahead(store, job):
    queue = make_queue(store)
    _register_agent(store, "ag-a", max_jobs=-1)
    _enqueue(store, queue, job, 3)
    assert _reasons(store, queue) == [
        "next: an agent will take it",
        "1 item(s) ahead",
        "2 item(s) ahead",
    ]


def test_a_full_queue_concurrency_is_the_reason(store, job):
    queue = make_queue(store, max_concurrency=2)
    _register_agent(store, "ag-a", max_jobs=-1)
    _start_run(store, queue, job, "ag-a")
    assert _reasons(store, queue) == []  # one free slot, nothing waiting
    _start_run(store, queue, job, "ag-a")
    _enqueue(store, queue, job, 2)
    assert _reasons(store, queue) == ["queue concurrency full (2/2 live)"] * 2


def test_every_agent_at_its_max_jobs_is_the_reason(store, job):
    queue = make_queue(store)
    _register_agent(store, "ag-a", max_jobs=1)
    _register_agent(store, "ag-b", max_jobs=2, queues=[queue.name])
    _start_run(store, queue, job, "ag-a")
    _start_run(store, queue, job, "ag-b")
    _enqueue(store, queue, job, 1)
    assert _reasons(store, queue) == ["next: an agent will take it"]  # ag-b has room
    _start_run(store, queue, job, "ag-b")
    assert _reasons(store, queue) == ["max-jobs reached on every agent serving this queue"]


def test_an_agent_serving_other_queues_only_does_not_count(store, job):
    queue = make_queue(store)
    make_queue(store, "other")
    _register_agent(store, "ag-a", max_jobs=-1, queues=["other"])
    _enqueue(store, queue, job, 1)
    assert _reasons(store, queue) == ["no agent serving this queue (start one: launchbay agent)"]

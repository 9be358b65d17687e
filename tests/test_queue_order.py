"""Queue items: strict FIFO within a priority, priority first, leases, exactly-once claims."""

import sqlite3
import threading

import pytest
from kit import make_code_job, make_queue

from store import ItemState, Priority, Store


def _enqueue(store, queue, job, priority=Priority.MEDIUM):
    return store.items.enqueue(queue.id, job.id, job.ref, {}, priority)


def _drain(store, queue, owner="a1"):
    order = []
    while (item := store.items.lease_next(queue, owner)) is not None:
        assert store.items.ack(item.id, owner)
        order.append(item.id)
    return order


def test_items_leave_in_fifo_order_within_a_priority(store, tmp_path):
    job = make_code_job(store, tmp_path, "j", "pass")
    queue = make_queue(store)
    ids = [_enqueue(store, queue, job) for _ in range(50)]
    assert _drain(store, queue) == ids


def test_higher_priority_goes_first_and_fifo_holds_inside_each(store, tmp_path):
    job = make_code_job(store, tmp_path, "j", "pass")
    queue = make_queue(store)
    plan = [
        Priority.LOW,
        Priority.MEDIUM,
        Priority.CRITICAL,
        Priority.HIGH,
        Priority.LOW,
        Priority.CRITICAL,
        Priority.MEDIUM,
        Priority.HIGH,
    ]
    ids = [(_enqueue(store, queue, job, p), p) for p in plan]
    expected = [i for i, _ in sorted(ids, key=lambda pair: (pair[1], pair[0]))]
    assert _drain(store, queue) == expected


def test_item_ids_are_never_reused_after_deletes(store, tmp_path):
    # AUTOINCREMENT: a deleted highest row must not hand its id to the next item, or a new item
    # could sort before older ones.
    job = make_code_job(store, tmp_path, "j", "pass")
    queue = make_queue(store)
    first = _enqueue(store, queue, job)
    store.conn.execute("DELETE FROM queue_items WHERE id = ?", (first,))
    assert _enqueue(store, queue, job) > first


def test_paused_queue_gives_nothing_until_resumed(store, tmp_path):
    job = make_code_job(store, tmp_path, "j", "pass")
    queue = make_queue(store)
    _enqueue(store, queue, job)
    store.queues.set_paused("local", True)
    assert store.items.lease_next(store.queues.get("local"), "a1") is None
    store.queues.set_paused("local", False)
    assert store.items.lease_next(store.queues.get("local"), "a1") is not None


def test_max_concurrency_is_held_at_claim_time(store, tmp_path):
    job = make_code_job(store, tmp_path, "j", "pass")
    queue = make_queue(store, max_concurrency=1)
    ids = [_enqueue(store, queue, job) for _ in range(3)]
    # Two agents lease for the single free slot at the same moment...
    first = store.items.lease_next(queue, "a1")
    second = store.items.lease_next(queue, "a2")
    assert store.items.claim_with_run(first, "a1", "r0000001", "local-process", {})
    # ...only one claims; the other item goes back to its place in line.
    assert not store.items.claim_with_run(second, "a2", "r0000002", "local-process", {})
    assert store.items.get(second.id).state is ItemState.PENDING
    assert store.items.lease_next(queue, "a2") is None  # full while the run lives
    store.runs.transition("r0000001", "finished")
    assert store.items.lease_next(queue, "a2").id == ids[1]


def test_expired_lease_returns_to_its_place_in_line(store, tmp_path):
    job = make_code_job(store, tmp_path, "j", "pass")
    queue = make_queue(store)
    ids = [_enqueue(store, queue, job) for _ in range(3)]
    leased = store.items.lease_next(queue, "dead-agent", lease_seconds=-1)  # already expired
    assert leased.id == ids[0]
    assert store.items.release_expired_leases() == 1
    assert store.items.get(ids[0]).state is ItemState.PENDING
    assert _drain(store, queue) == ids


def test_cancelled_item_is_skipped_and_a_lost_lease_cannot_be_acked(store, tmp_path):
    job = make_code_job(store, tmp_path, "j", "pass")
    queue = make_queue(store)
    a, b = _enqueue(store, queue, job), _enqueue(store, queue, job)
    store.items.cancel(a)
    leased = store.items.lease_next(queue, "a1")
    assert leased.id == b
    store.items.cancel(b)  # cancelled while leased: the agent's claim must fail
    assert not store.items.claim_with_run(leased, "a1", "r0000002", "local-process", {})
    assert store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_threads_with_their_own_connections_claim_each_item_exactly_once(db_path, tmp_path):
    setup = Store.open(db_path)
    job = make_code_job(setup, tmp_path, "j", "pass")
    queue = make_queue(setup)
    ids = [_enqueue(setup, queue, job) for _ in range(400)]
    claimed: list[list[int]] = [[] for _ in range(6)]

    def worker(index: int) -> None:
        mine = Store.open(db_path)  # one connection per thread
        while (item := mine.items.lease_next(queue, f"t{index}")) is not None:
            assert mine.items.ack(item.id, f"t{index}")
            claimed[index].append(item.id)
        mine.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for part in claimed for i in part]
    assert sorted(every) == ids  # each exactly once
    states = {r[0] for r in setup.conn.execute("SELECT state FROM queue_items")}
    assert states == {"claimed"}
    setup.close()


def test_run_state_machine_refuses_to_leave_a_terminal_state(store, tmp_path):
    import pytest

    from store import IllegalTransition, RunState

    job = make_code_job(store, tmp_path, "j", "pass")
    queue = make_queue(store)
    item = store.items.lease_next(queue, "a1") or None
    assert item is None
    _enqueue(store, queue, job)
    item = store.items.lease_next(queue, "a1")
    store.items.claim_with_run(item, "a1", "r0000003", "local-process", {})
    store.runs.transition("r0000003", RunState.RUNNING)
    run = store.runs.transition(
        "r0000003",
        RunState.FAILED,
        "exited with code 3",
        exit_code=3,
        error_stage="run",
        error_message="exited with code 3",
    )
    assert run.ended_at is not None and run.exit_code == 3
    with pytest.raises(IllegalTransition):
        store.runs.transition("r0000003", RunState.RUNNING)
    events = [(e.from_state, e.to_state) for e in store.runs.events("r0000003")]
    assert events == [(None, "starting"), ("starting", "running"), ("running", "failed")]
    failed_item = store.items.get(item.id)
    assert (failed_item.state, failed_item.error_stage) == (ItemState.FAILED, "run")


def test_second_process_migrating_at_once_is_harmless(db_path):
    # Two connections opening a new file: BEGIN IMMEDIATE makes the second wait, then no-op.
    a = Store.open(db_path)
    b = Store.open(db_path)
    assert a.conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    assert b.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    with sqlite3.connect(db_path) as raw:
        names = [r[0] for r in raw.execute("SELECT name FROM _sqlite_migrations")]
    from store.migrations import MIGRATIONS

    assert names == [migration.__name__ for migration in MIGRATIONS]  # each applied once
    a.close()
    b.close()


def _terminal_states():
    from store.states import TERMINAL_RUN_STATES

    return sorted(TERMINAL_RUN_STATES)


@pytest.mark.parametrize("ended", _terminal_states())
def test_no_terminal_run_state_can_be_left(store, tmp_path, ended):
    """Each terminal state on its own: a guard lifted for any one of them is caught."""
    from store import IllegalTransition, RunState

    job = make_code_job(store, tmp_path, "j", "pass")
    queue = make_queue(store)
    _enqueue(store, queue, job)
    item = store.items.lease_next(queue, "a1")
    store.items.claim_with_run(item, "a1", "r0000004", "local-process", {})
    store.runs.transition("r0000004", RunState.RUNNING)
    before = store.runs.transition("r0000004", ended, f"ended {ended.value}")
    for other in RunState:
        with pytest.raises(IllegalTransition):
            store.runs.transition("r0000004", other, "back again")
    after = store.runs.get("r0000004")
    assert (after.state, after.ended_at, after.message) == (ended, before.ended_at, before.message)
    assert [e.to_state for e in store.runs.events("r0000004")] == [
        "starting",
        "running",
        ended.value,
    ]

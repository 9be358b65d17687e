"""The agent through what one item or the store can throw at it: an item that makes its
preparation raise, a write lock held past the busy timeout, a full disk."""

import sqlite3
import threading

import pytest
from kit import AgentThread, launch, make_code_job, make_queue, run_agent, run_for_item, wait_for

from store import ItemState, RunState


def _nest(store, item_id: int, depth: int) -> None:
    """Store, bypassing launch's checks, a run_config `depth` lists deep (too deep to render)."""
    deep = "[" * depth + "]" * depth
    row = store.conn.execute("SELECT launch FROM queue_items WHERE id = ?", (item_id,)).fetchone()
    assert '"run_config": {}' in row[0]
    poisoned = row[0].replace('"run_config": {}', f'"run_config": {{"x": {deep}}}')
    store.conn.execute("UPDATE queue_items SET launch = ? WHERE id = ?", (poisoned, item_id))


@pytest.mark.parametrize("depth", [600, 2000])
def test_an_item_whose_preparation_raises_fails_at_stage_agent_and_the_agent_goes_on(
    store, db_path, tmp_path, depth
):
    make_code_job(store, tmp_path, "deep", "print('never')")
    make_code_job(store, tmp_path, "fine", "print('fine')")
    make_queue(store)
    poison, good = launch(store, "deep"), launch(store, "fine")
    _nest(store, poison, depth)
    agent = run_agent(db_path)
    item = store.items.get(poison)
    assert (item.state, item.error_stage) == (ItemState.FAILED, "agent")
    assert "RecursionError" in item.error_message
    assert item.lease_owner is None
    after = run_for_item(store, good)
    assert after.state is RunState.FINISHED and after.agent_id == agent.id
    assert f"item {poison} failed at agent" in agent.last_error


def test_a_bug_while_preparing_an_item_after_its_claim_fails_its_run_at_stage_agent(
    store, db_path, tmp_path, monkeypatch
):
    import runners.agent.loop

    make_code_job(store, tmp_path, "unlucky", "print('never')")
    make_code_job(store, tmp_path, "fine", "print('fine')")
    make_queue(store)
    unlucky, good = launch(store, "unlucky"), launch(store, "fine")
    real_submit = runners.agent.loop.DaemonPool.submit
    calls = []

    def submit_failing_once(pool, func, *args):
        calls.append(func)
        if len(calls) == 1:
            raise ZeroDivisionError("a bug after the claim")
        return real_submit(pool, func, *args)

    monkeypatch.setattr(runners.agent.loop.DaemonPool, "submit", submit_failing_once)
    agent = run_agent(db_path)
    run = run_for_item(store, unlucky)
    assert (run.state, run.error_stage) == (RunState.FAILED, "agent")
    assert "ZeroDivisionError: a bug after the claim" in run.error_message
    item = store.items.get(unlucky)
    assert (item.state, item.error_stage) == (ItemState.FAILED, "agent")
    assert run_for_item(store, good).state is RunState.FINISHED
    assert not agent.live


@pytest.fixture
def impatient_agent(monkeypatch):
    """Agents opened from here on give up on a lock after 0.1 s, and write a heartbeat every
    0.05 s: a store fault reaches them at once."""
    import runners.agent.loop
    import store.connection

    monkeypatch.setattr(store.connection, "BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(runners.agent.loop, "HEARTBEAT_SECONDS", 0.05)


def _until_agent_reports(thread: AgentThread, fragment: str) -> None:
    wait_for(
        lambda: thread.error or fragment in (thread.agent.last_error or ""),
        what=f"the agent to report {fragment!r}",
    )
    assert thread.error is None, f"the agent died: {thread.error!r}"


def _runs_an_item_after(store, thread: AgentThread, tmp_path) -> None:
    item_id = launch(store, "after")
    run = wait_for(
        lambda: (
            thread.error or ((r := run_for_item(store, item_id)) and r.state.is_terminal() and r)
        ),
        what="the item launched after the fault to run",
    )
    assert thread.error is None, f"the agent died: {thread.error!r}"
    assert run.state is RunState.FINISHED and run.agent_id == thread.agent.id


def test_a_write_lock_held_past_the_busy_timeout_is_waited_out(
    store, db_path, tmp_path, impatient_agent
):
    make_code_job(store, tmp_path, "after", "print('after the lock')")
    make_queue(store)
    with AgentThread(db_path) as thread:
        wait_for(lambda: store.agents.get(thread.agent.id), what="the agent to register")
        locker = sqlite3.connect(db_path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            _until_agent_reports(thread, "locked by another writer; retrying")
            _until_agent_reports(thread, "(attempt 2)")  # still alive, and trying again
        finally:
            locker.execute("COMMIT")
            locker.close()
        _until_agent_reports(thread, "writable again")
        record = store.agents.get(thread.agent.id)
        assert "locked by another writer" in record.last_error  # what the app's footer shows
        _runs_an_item_after(store, thread, tmp_path)


def test_a_full_disk_is_waited_out(store, db_path, tmp_path, impatient_agent, monkeypatch):
    from store.agents import AgentStore

    make_code_job(store, tmp_path, "after", "print('after the disk filled')")
    make_queue(store)
    disk_full = threading.Event()
    real_heartbeat = AgentStore.heartbeat

    def heartbeat(agents, agent_id):
        if disk_full.is_set():  # what SQLite raises when a write finds no room
            exc = sqlite3.OperationalError("database or disk is full")
            exc.sqlite_errorcode = sqlite3.SQLITE_FULL
            raise exc
        real_heartbeat(agents, agent_id)

    monkeypatch.setattr(AgentStore, "heartbeat", heartbeat)
    with AgentThread(db_path) as thread:
        wait_for(lambda: store.agents.get(thread.agent.id), what="the agent to register")
        disk_full.set()
        _until_agent_reports(thread, "the disk is full; retrying")
        _until_agent_reports(thread, "(attempt 2)")
        disk_full.clear()
        _until_agent_reports(thread, "writable again")
        assert "the disk is full" in store.agents.get(thread.agent.id).last_error
        _runs_an_item_after(store, thread, tmp_path)

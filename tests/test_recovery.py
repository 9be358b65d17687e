"""Many agent processes on one file, and agents that die: nothing lost, nothing run twice."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from kit import agent_process, launch, make_queue, wait_for

from runners.catalog.jobs import create_job
from store import RunState, Store

pytestmark = pytest.mark.slow


def _agent_process(db_path, *args) -> subprocess.Popen:
    """A quiet agent on every queue; only its stderr is kept."""
    return agent_process(
        db_path, None, "--quiet", *args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def test_four_agent_processes_claim_each_of_2000_items_exactly_once(store, db_path, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    create_job(store, "code", "true", str(folder), entrypoint="/bin/true")
    make_queue(store)
    item_ids = [launch(store, "true") for _ in range(2000)]
    agents = [_agent_process(db_path, "--max-jobs", "4", "--until-empty") for _ in range(4)]
    for proc in agents:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    runs = store.conn.execute("SELECT item_id, state, agent_id FROM runs").fetchall()
    per_item = Counter(row["item_id"] for row in runs)
    assert sorted(per_item) == item_ids
    assert set(per_item.values()) == {1}
    assert {row["state"] for row in runs} == {"finished"}
    assert (
        store.conn.execute("SELECT COUNT(*) FROM queue_items WHERE state != 'claimed'").fetchone()[
            0
        ]
        == 0
    )
    # All four really took part.
    assert len({row["agent_id"] for row in runs}) == 4


def test_a_killed_agent_is_recovered_without_losing_or_repeating_anything(store, db_path, tmp_path):
    ledger = tmp_path / "ledger"
    folder = tmp_path / "src"
    folder.mkdir()
    # Each run appends its id to the ledger when it starts: a run that ran twice shows twice.
    (folder / "main.py").write_text(
        "import os, time\n"
        f"open({str(ledger)!r}, 'a').write(os.environ['LAUNCHBAY_ITEM_ID'] + '\\n')\n"
        "time.sleep(float(os.environ.get('NAP', '2')))\n"
        "print('slept well')\n"
    )
    create_job(store, "code", "nap", str(folder), entrypoint=f"{sys.executable} main.py")
    make_queue(store, config={"resource_args": {"env": {"NAP": "2"}}})
    item_ids = [launch(store, "nap") for _ in range(5)]

    first = _agent_process(db_path, "--max-jobs", "2")
    live = wait_for(
        lambda: (runs := store.runs.list(states=["running"])) and len(runs) == 2 and runs,
        what="two live runs",
    )
    dead_agent = live[0].agent_id
    first.send_signal(signal.SIGKILL)
    first.wait()
    # The agent was killed holding a lease, as if it died between lease and claim.
    leased = store.items.lease_next(store.queues.get("local"), dead_agent)
    assert leased is not None

    second = _agent_process(db_path, "--max-jobs", "2", "--until-empty")
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err

    runs = store.runs.list()
    per_item = Counter(run.item_id for run in runs)
    assert sorted(per_item) == item_ids and set(per_item.values()) == {1}
    assert {run.state for run in runs} == {RunState.FINISHED}
    for run in live:  # re-adopted, not restarted: same process, finished by the new agent
        adopted = store.runs.get(run.id)
        assert adopted.handle["pid"] == run.handle["pid"]
        assert adopted.agent_id != dead_agent
        assert "slept well" in (store.run_dir(run.id) / "output.log").read_text()
    starts = Counter(ledger.read_text().split())
    assert set(starts.values()) == {1} and len(starts) == 5


def test_a_run_whose_process_vanished_while_no_agent_watched_is_marked_crashed(
    store, db_path, tmp_path
):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "main.py").write_text("import time; time.sleep(60)\n")
    create_job(store, "code", "long", str(folder), entrypoint=f"{sys.executable} main.py")
    make_queue(store)
    run = _start_then_kill_agent(store, db_path, launch(store, "long"))
    os.killpg(run.handle["pid"], signal.SIGKILL)  # the process dies with no exit status
    wait_for(
        lambda: (
            not os.path.exists(f"/proc/{run.handle['pid']}/cmdline")
            or _is_zombie(run.handle["pid"])
        ),
        what="the process to die",
    )
    second = _agent_process(db_path, "--until-empty")
    second.communicate(timeout=60)
    crashed = store.runs.get(run.id)
    assert crashed.state is RunState.CRASHED
    assert "without" in crashed.message


def _start_then_kill_agent(store, db_path, item_id: int):
    """Start an agent process, let it start the item's run, SIGKILL the agent; returns the run."""
    agent = _agent_process(db_path)
    run = wait_for(
        lambda: (r := store.runs.find_for_item(item_id)) and r.handle and r,
        what="a run with a handle",
    )
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    return run


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_an_agent_restarted_while_a_stop_was_pending_finishes_the_stop(store, db_path, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "main.py").write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(120)\n"
    )
    create_job(store, "code", "stubborn", str(folder), entrypoint=f"{sys.executable} main.py")
    make_queue(store, config={"resource_args": {"stop_grace_seconds": 1}})
    run = _start_then_kill_agent(store, db_path, launch(store, "stubborn"))
    other = Store.open(db_path)
    other.runs.request_stop(run.id, "cancel requested by user")
    other.close()
    started = time.monotonic()
    second = _agent_process(db_path, "--until-empty")
    second.communicate(timeout=60)
    assert store.runs.get(run.id).state is RunState.STOPPED
    assert time.monotonic() - started < 30

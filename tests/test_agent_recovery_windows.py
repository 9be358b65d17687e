"""An agent SIGKILLed inside the windows recovery must cover: after starting a local process
but before keeping its handle (the next agent finds the process and follows it to its end), and
right after claiming an item (nothing started: the item goes back in line and runs once)."""

import signal
import subprocess
import sys
from collections import Counter

import pytest
from kit import agent_process, launch, make_queue, run_for_item, wait_for, write_code_job

from runners.catalog.jobs import create_job
from runners.targets.local_process.runner import _WRAPPER, START_FILE, LocalProcessRunner
from store import ItemState, RunState

pytestmark = pytest.mark.slow

# Each start appends the item id to the ledger (a run that ran twice shows twice), then the job
# waits for the test's go-ahead: the test, not the clock, decides when it ends.
_JOB = """
import os, pathlib, time
with open(os.environ["LEDGER"], "a") as f:
    f.write(os.environ["LAUNCHBAY_ITEM_ID"] + "\\n")
go = pathlib.Path(os.environ["GO"])
while not go.exists():
    time.sleep(0.02)
print("went ahead")
"""


@pytest.fixture
def gated_job(store, tmp_path):
    ledger, go = tmp_path / "ledger", tmp_path / "go"
    folder = write_code_job(tmp_path / "src", _JOB)
    create_job(store, "code", "gated", str(folder), entrypoint=f"{sys.executable} main.py")
    make_queue(store, config={"resource_args": {"env": {"LEDGER": str(ledger), "GO": str(go)}}})
    return ledger, go


def _crashes(agent: subprocess.Popen) -> None:
    output, _ = agent.communicate(timeout=60)
    assert agent.returncode == -signal.SIGKILL, output


def test_a_process_started_by_an_agent_killed_before_keeping_its_handle_is_re_adopted(
    store, db_path, gated_job
):
    ledger, go = gated_job
    item_id = launch(store, "gated")
    _crashes(agent_process(db_path, "local", crash_at="local-process-started"))
    run = run_for_item(store, item_id)
    assert run.state is RunState.STARTING and run.handle is None
    assert not (store.run_dir(run.id) / "handle.json").exists()
    wait_for(lambda: ledger.exists(), what="the job to start without its agent")
    second = agent_process(db_path, "local", "--until-empty")
    try:
        adopted = wait_for(
            lambda: (r := store.runs.get(run.id)).state is RunState.RUNNING and r,
            what="the next agent to find the process",
        )
        go.touch()
        output, _ = second.communicate(timeout=60)
    finally:
        go.touch()
        second.kill()
    ended = store.runs.get(run.id)
    assert (ended.state, ended.exit_code) == (RunState.FINISHED, 0), output
    pid, _ = (store.run_dir(run.id) / START_FILE).read_text().split()
    assert adopted.handle["pid"] == ended.handle["pid"] == int(pid)
    assert "went ahead" in store.run_log_path(run.id).read_text()
    assert Counter(ledger.read_text().split()) == {str(item_id): 1}


def test_an_item_claimed_by_an_agent_killed_before_starting_it_goes_back_and_runs_once(
    store, db_path, gated_job
):
    ledger, go = gated_job
    item_id = launch(store, "gated")
    _crashes(agent_process(db_path, "local", crash_at="agent-claimed"))
    lost = run_for_item(store, item_id)
    assert lost.state is RunState.STARTING and lost.handle is None
    assert not ledger.exists()
    go.touch()
    output, _ = agent_process(db_path, "local", "--until-empty").communicate(timeout=60)
    never = store.runs.get(lost.id)
    assert never.state is RunState.CRASHED and "never started" in never.message, output
    rerun = run_for_item(store, item_id)
    assert rerun.id != lost.id
    assert (rerun.state, rerun.exit_code) == (RunState.FINISHED, 0)
    item = store.items.get(item_id)
    assert (item.state, item.run_id) == (ItemState.CLAIMED, rerun.id)
    assert Counter(ledger.read_text().split()) == {str(item_id): 1}


def test_a_wrapper_starting_after_its_run_was_abandoned_never_runs_the_job(tmp_path):
    run_dir = tmp_path / "run"
    assert LocalProcessRunner().abandon("r", run_dir)
    ran = tmp_path / "ran"
    late = subprocess.run(
        [
            "/bin/sh",
            "-c",
            _WRAPPER,
            "launchbay-run",
            str(run_dir / "exit_code"),
            str(run_dir / START_FILE),
            "touch",
            str(ran),
        ],
        check=False,
    )
    assert late.returncode == 125 and not ran.exists()
    assert not (run_dir / "exit_code").exists()
    assert LocalProcessRunner().find("r", run_dir) is None


def test_a_run_whose_wrapper_started_first_is_not_abandoned_but_found(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    started = subprocess.run(
        [
            "/bin/sh",
            "-c",
            _WRAPPER,
            "launchbay-run",
            str(run_dir / "exit_code"),
            str(run_dir / START_FILE),
            "true",
        ],
        check=False,
    )
    assert started.returncode == 0
    assert not LocalProcessRunner().abandon("r", run_dir)
    handle = LocalProcessRunner().find("r", run_dir)
    assert LocalProcessRunner().status(handle).state is RunState.FINISHED

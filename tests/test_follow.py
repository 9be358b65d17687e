"""`launchbay launch --follow` (issue 16): it says what the item waits for, streams the run's
states and log until it ends, and its exit code says how: 0 finished, 1 not, 130 on ctrl+c,
which leaves the run running."""

import os
import signal

import pytest
from kit import (
    AgentOutput,
    AgentThread,
    CliProcess,
    evict_pods_of,
    image_job,
    kube_queue,
    make_code_job,
    make_queue,
    run_launchbay,
    run_of,
)

from store import RunState

pytestmark = pytest.mark.slow


@pytest.fixture
def jobs(store, tmp_path):
    make_code_job(store, tmp_path, "hello", "print('hello from the job')")
    make_code_job(store, tmp_path, "broken", "print('about to fail')\nraise SystemExit(3)")
    make_queue(store)


def test_plain_launch_says_the_item_will_wait_when_no_agent_serves_its_queue(jobs, cli):
    result = cli("launch", "-j", "hello", "-q", "local")
    assert result.code == 0
    assert "no agent serves queue local: item 1 waits until one does" in result.err


def test_follow_says_what_it_waits_for_then_streams_the_run_to_its_end(jobs, db_path):
    with CliProcess("launch", "-j", "hello", "-q", "local", "--follow", db=db_path) as follow:
        follow.wait_for_err_line("item 1 waits on queue local: no agent serving this queue")
        with AgentOutput(db_path, "local"):
            result = follow.finish()
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["1", "hello from the job"]
    run_line = next(line for line in result.err.splitlines() if "claimed" in line)
    run_id = run_line.split()[1].rstrip(":")
    assert f"run {run_id}: running" in result.err
    assert f"run {run_id}: finished (exited with code 0)" in result.err
    assert result.err.rstrip().endswith(f"run {run_id} finished, exit code 0")


def test_follow_exits_1_when_the_run_fails(jobs, db_path):
    with AgentOutput(db_path, "local"):
        result = run_launchbay("launch", "-j", "broken", "-q", "local", "-f", db=db_path)
    assert result.code == 1, result.err
    assert "about to fail" in result.out
    assert "failed (exited with code 3)" in result.err


def test_follow_with_agent_runs_the_item_in_process(jobs, db_path, store):
    result = run_launchbay("launch", "-j", "hello", "-q", "local", "-f", "--agent", db=db_path)
    assert result.code == 0, result.err
    assert "no agent serving" not in result.err  # its own agent is on its way
    assert "hello from the job" in result.out
    assert store.runs.find_for_item(1).state is RunState.FINISHED


def test_agent_without_follow_is_refused(jobs, cli):
    result = cli("launch", "-j", "hello", "-q", "local", "--agent")
    assert result.code == 2
    assert "--agent" in result.err and "expected --follow" in result.err


def test_ctrl_c_stops_following_and_leaves_the_run_running(store, db_path, tmp_path):
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    make_code_job(
        store, tmp_path, "gated", f"print('started', flush=True)\nopen({str(gate)!r}).read()"
    )
    make_queue(store)
    with AgentOutput(db_path, "local"):
        with CliProcess("launch", "-j", "gated", "-q", "local", "-f", db=db_path) as follow:
            follow.wait_for_err_line(": running")
            follow.process.send_signal(signal.SIGINT)
            result = follow.finish()
        assert result.code == 130, result.err
        run = store.runs.find_for_item(1)
        assert f"stopped following; run {run.id} keeps running" in result.err
        assert run.state is RunState.RUNNING
        with open(gate, "w"):
            pass  # the job ends; the agent sees it finish
        assert run_of(store, 1).state is RunState.FINISHED


def test_follow_goes_on_to_each_retry_and_exits_with_the_last_attempt(store, db_path, tmp_path):
    make_code_job(
        store,
        tmp_path,
        "flaky",
        "import os, sys\nattempt = os.environ['LAUNCHBAY_ATTEMPT']\n"
        "print('attempt', attempt)\nsys.exit(0 if attempt == '2' else 1)",
    )
    make_queue(store)
    spec = '{"retry": {"max": 2, "backoff_seconds": 0}}'
    result = run_launchbay(
        "launch", "-j", "flaky", "-q", "local", "-c", spec, "-f", "--agent", db=db_path
    )
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["1", "attempt 1", "attempt 2"]
    assert "retrying as item 2 (attempt 2 of 3)" in result.err
    assert "item 2 claimed" in result.err


def test_follow_goes_on_through_a_retry_and_a_preemptions_requeue_to_how_the_last_ended(
    store, db_path, kubeconfig, cluster
):
    kube_queue(store, kubeconfig, max_resumes=1)
    # Attempt 1 fails; attempt 2 waits to be preempted; its requeue (resume 1) finishes.
    image_job(
        store,
        "long",
        "echo attempt=$LAUNCHBAY_ATTEMPT resume=$LAUNCHBAY_RESUME_COUNT;"
        ' [ "$LAUNCHBAY_ATTEMPT" = 1 ] && exit 1; [ "$LAUNCHBAY_RESUME_COUNT" = 1 ] || sleep 300',
    )
    spec = '{"retry": {"max": 1, "backoff_seconds": 0}}'
    launch = ("launch", "-j", "long", "-q", "k8s", "-c", spec, "-f")
    with AgentThread(db_path), CliProcess(*launch, db=db_path) as follow:
        evict_pods_of(cluster, run_of(store, 2, {RunState.RUNNING}).id)
        result = follow.finish()
    failed, preempted, finished = (store.runs.find_for_item(i) for i in (1, 2, 3))
    assert (failed.state, preempted.state, finished.state) == (
        RunState.FAILED,
        RunState.PREEMPTED,
        RunState.FINISHED,
    )
    assert result.code == 0, result.err
    assert f"run {failed.id} failed: following the retry, item 2" in result.err
    assert f"run {preempted.id} preempted: following the requeued run, item 3" in result.err
    assert f"run {finished.id}: item 3 claimed" in result.err
    # The requeue is the same attempt resumed: its LAUNCHBAY_ATTEMPT does not start over.
    assert result.out.splitlines() == [
        "1",
        "attempt=1 resume=",
        "attempt=2 resume=",
        "attempt=2 resume=1",
    ]
    assert result.err.rstrip().endswith(f"run {finished.id} finished, exit code 0")

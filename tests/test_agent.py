"""The agent with the local-process runner: runs, failures, cancels, limits, big logs."""

import json
import time

import pytest
from kit import (
    PYTHON_ENTRYPOINT,
    AgentThread,
    launch,
    make_code_job,
    make_queue,
    run_agent,
    run_for_item,
    wait_for,
    write_code_job,
)

from runners.catalog.jobs import create_job
from store import ItemState, RunState


def _log(store, run_id: str) -> str:
    return (store.run_dir(run_id) / "output.log").read_text()


def test_a_run_goes_starting_running_finished_with_its_output_logged(store, db_path, tmp_path):
    make_code_job(store, tmp_path, "hello", "print('hello from the job')")
    make_queue(store)
    item_id = launch(store, "hello")
    run_agent(db_path)
    run = run_for_item(store, item_id)
    assert run.state is RunState.FINISHED and run.exit_code == 0
    assert [e.to_state for e in store.runs.events(run.id)] == ["starting", "running", "finished"]
    assert run.started_at is not None and run.ended_at >= run.started_at
    assert run.handle["pid"] > 0 and run.handle["start_time"] is not None
    assert "hello from the job" in _log(store, run.id)
    assert store.items.get(item_id).state is ItemState.CLAIMED


def test_stdout_and_stderr_both_reach_the_log(store, db_path, tmp_path):
    make_code_job(
        store,
        tmp_path,
        "both",
        """
        import sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
    """,
    )
    make_queue(store)
    item_id = launch(store, "both")
    run_agent(db_path)
    log = _log(store, run_for_item(store, item_id).id)
    assert "to stdout" in log and "to stderr" in log


def test_a_failing_job_fails_the_run_and_the_item_at_stage_run(store, db_path, tmp_path):
    make_code_job(store, tmp_path, "boom", "raise SystemExit(3)")
    make_queue(store)
    item_id = launch(store, "boom")
    run_agent(db_path)
    run = run_for_item(store, item_id)
    assert (run.state, run.exit_code, run.error_stage) == (RunState.FAILED, 3, "run")
    assert run.error_message == "exited with code 3"
    item = store.items.get(item_id)
    assert (item.state, item.error_stage) == (ItemState.FAILED, "run")


def test_a_missing_entrypoint_fails_at_stage_run_and_the_agent_goes_on(store, db_path, tmp_path):
    folder = write_code_job(tmp_path / "src", "print('ok')")
    create_job(store, "code", "missing", str(folder), entrypoint="no-such-program --x")
    make_code_job(store, tmp_path, "fine", "print('still running jobs')")
    make_queue(store)
    bad, good = launch(store, "missing"), launch(store, "fine")
    run_agent(db_path)
    bad_run = run_for_item(store, bad)
    assert bad_run.state is RunState.FAILED and bad_run.error_stage == "run"
    assert "no-such-program" in bad_run.error_message and "PATH" in bad_run.error_message
    assert "[launchbay] run failed" in _log(store, bad_run.id)
    assert run_for_item(store, good).state is RunState.FINISHED


def test_a_missing_env_macro_fails_the_item_at_stage_agent(store, db_path, tmp_path):
    make_code_job(store, tmp_path, "envy", "print('x')")
    make_queue(store, config={"resource_args": {"env": {"TOKEN_FROM": "${env:NOT_SET_ANYWHERE}"}}})
    item_id = launch(store, "envy")
    agent = run_agent(db_path, environ={})
    item = store.items.get(item_id)
    assert (item.state, item.error_stage) == (ItemState.FAILED, "agent")
    assert "NOT_SET_ANYWHERE is not set" in item.error_message
    assert run_for_item(store, item_id) is None
    assert "NOT_SET_ANYWHERE" in agent.last_error


def test_cancelling_a_pending_item_means_it_never_runs(store, db_path, tmp_path, cli):
    make_code_job(store, tmp_path, "never", "open('ran', 'w').write('x')")
    make_queue(store)
    item_id = launch(store, "never")
    result = cli("runs", "cancel", str(item_id))
    assert result.code == 0 and f"cancelled item {item_id}" in result.out
    run_agent(db_path)
    assert store.items.get(item_id).state is ItemState.CANCELLED
    assert store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


@pytest.mark.parametrize("ignores_sigterm", [False, True], ids=["exits-on-term", "needs-kill"])
def test_cancelling_a_running_run_stops_it(store, db_path, tmp_path, cli, ignores_sigterm):
    script = """
        import signal, time
        if IGNORE:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("started", flush=True)
        time.sleep(120)
    """.replace("IGNORE", str(ignores_sigterm))
    make_code_job(store, tmp_path, "sleeper", script)
    make_queue(store, config={"resource_args": {"stop_grace_seconds": 0.5}})
    item_id = launch(store, "sleeper")
    with AgentThread(db_path):
        run = wait_for(
            lambda: (
                (r := run_for_item(store, item_id))
                and r.state is RunState.RUNNING
                and "started" in _log(store, r.id)
                and r
            ),
            what="the run to start",
        )
        started = time.monotonic()
        result = cli("runs", "cancel", run.id)
        assert result.code == 0 and "stopping" in result.out
        wait_for(lambda: store.runs.get(run.id).state is RunState.STOPPED, what="stopped")
        assert time.monotonic() - started < 10
    states = [e.to_state for e in store.runs.events(run.id)]
    assert states == ["starting", "running", "stopping", "stopped"]
    from runners.system import procinfo

    assert not procinfo.is_alive(run.handle["pid"], run.handle["start_time"])


# Each run blocks until the test lets its item go (or all of them): the test, not the clock,
# decides which runs overlap.
_GATED = """
import os, pathlib, time
gates, item = pathlib.Path(os.environ["GATES"]), os.environ["LAUNCHBAY_ITEM_ID"]
deadline = time.monotonic() + 300  # a failed test never leaves it behind for long
while not (gates / item).exists() and not (gates / "all").exists():
    if time.monotonic() > deadline:
        raise SystemExit("never released")
    time.sleep(0.02)
"""


def test_max_jobs_limits_live_runs(store, db_path, tmp_path):
    gates = tmp_path / "gates"
    gates.mkdir()
    make_code_job(store, tmp_path, "gated", _GATED)
    make_queue(store, config={"resource_args": {"env": {"GATES": str(gates)}}})
    items = [launch(store, "gated") for _ in range(4)]

    def running():
        return store.runs.list(states=["running"])

    with AgentThread(db_path, max_jobs=2):
        first = wait_for(lambda: len(running()) == 2 and running(), what="two running runs")
        # Both were seen running by the agent after it claimed them: it has dispatched since,
        # with no room for a third.
        assert len(store.runs.list()) == 2
        (gates / str(first[0].item_id)).touch()
        wait_for(lambda: store.runs.get(first[0].id).state is RunState.FINISHED, what="one end")
        wait_for(lambda: len(running()) == 2, what="the third run to take its place")
        assert len(store.runs.list()) == 3 and len(store.runs.list(live_only=True)) == 2
        (gates / "all").touch()
        wait_for(lambda: len(store.runs.list(states=["finished"])) == 4, what="four finished runs")
    assert sorted(r.item_id for r in store.runs.list()) == items
    spans = [(r.started_at, r.ended_at) for r in store.runs.list()]
    most_overlapping = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most_overlapping == 2


def test_queue_max_concurrency_holds_across_agents(store, db_path, tmp_path):
    make_code_job(store, tmp_path, "nap", "import time; time.sleep(0.3)")
    make_queue(store, max_concurrency=1)
    for _ in range(3):
        launch(store, "nap")
    with AgentThread(db_path, max_jobs=4), AgentThread(db_path, max_jobs=4):
        try:
            wait_for(
                lambda: (
                    store.conn.execute(
                        "SELECT COUNT(*) FROM runs WHERE state = 'finished'"
                    ).fetchone()[0]
                    == 3
                ),
                what="three finished runs",
            )
        except AssertionError:  # say where things stood (and the agents' reports are shown)
            items = store.conn.execute("SELECT id, state, lease_owner FROM queue_items")
            runs = store.conn.execute("SELECT id, item_id, state, agent_id FROM runs")
            print("items:", [tuple(r) for r in items], "runs:", [tuple(r) for r in runs])
            raise
    spans = [(r.started_at, r.ended_at) for r in store.runs.list()]
    assert max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans) == 1


def test_agent_serves_queues_round_robin(store, db_path, tmp_path):
    make_code_job(store, tmp_path, "quick", "pass")
    make_queue(store, "a")
    make_queue(store, "b")
    for _ in range(3):
        launch(store, "quick", queue="a")
    for _ in range(3):
        launch(store, "quick", queue="b")
    run_agent(db_path)
    order = [r.queue for r in sorted(store.runs.list(), key=lambda r: r.created_at)]
    assert order == ["a", "b", "a", "b", "a", "b"]


def test_an_item_enqueued_in_process_wakes_an_idle_agent_at_once(store, db_path, tmp_path):
    make_code_job(store, tmp_path, "quick", "pass")
    make_queue(store)
    with AgentThread(db_path):
        time.sleep(0.3)  # let it go idle
        item_id = launch(store, "quick")
        run = wait_for(lambda: run_for_item(store, item_id), timeout=5, what="a claim")
        assert run is not None


def test_a_job_printing_a_million_lines_has_every_line_in_its_log(store, db_path, tmp_path):
    make_code_job(
        store,
        tmp_path,
        "chatty",
        """
        import sys
        write = sys.stdout.write
        for i in range(1_000_000):
            write(f"line {i}\\n")
    """,
    )
    make_queue(store)
    item_id = launch(store, "chatty")
    run_agent(db_path)
    run = run_for_item(store, item_id)
    assert run.state is RunState.FINISHED
    with open(store.run_dir(run.id) / "output.log") as f:
        count = 0
        for count, line in enumerate(f, start=1):  # noqa: B007
            if line != f"line {count - 1}\n":
                raise AssertionError(f"line {count} is {line!r}")
    assert count == 1_000_000


def test_run_config_and_env_reach_the_job(store, db_path, tmp_path):
    schema = {
        "type": "object",
        "properties": {
            "lr": {"type": "number", "default": 0.1},
            "epochs": {"type": "integer", "default": 2, "minimum": 1},
        },
    }
    make_code_job(
        store,
        tmp_path,
        "cfg",
        """
        import json, os
        keys = ["LAUNCHBAY_RUN_ID", "LAUNCHBAY_JOB", "LAUNCHBAY_QUEUE", "LAUNCHBAY_CONFIG"]
        print(json.dumps({k: os.environ[k] for k in keys}))
        print(open(os.environ["LAUNCHBAY_CONFIG_FILE"]).read().replace("\\n", ""))
    """,
    )
    store.conn.execute("UPDATE job_versions SET input_schema = ?", (json.dumps(schema),))
    make_queue(store)
    item_id = launch(store, "cfg", spec={"overrides": {"run_config": {"epochs": 5}}})
    run_agent(db_path)
    run = run_for_item(store, item_id)
    env_line, file_line = _log(store, run.id).splitlines()[:2]
    env = json.loads(env_line)
    assert env["LAUNCHBAY_RUN_ID"] == run.id
    assert env["LAUNCHBAY_JOB"] == "cfg:v0" and env["LAUNCHBAY_QUEUE"] == "local"
    assert json.loads(env["LAUNCHBAY_CONFIG"]) == {"lr": 0.1, "epochs": 5}
    assert json.loads(file_line) == {"lr": 0.1, "epochs": 5}


def test_args_and_entrypoint_are_argv_never_a_shell(store, db_path, tmp_path):
    make_code_job(store, tmp_path, "argv", "import sys; print(sys.argv[1:])")
    make_queue(store)
    item_id = launch(
        store,
        "argv",
        args=["--name 'a b' ; rm -rf /tmp/x $(whoami)"],
        entry_point=PYTHON_ENTRYPOINT,
    )
    run_agent(db_path)
    log = _log(store, run_for_item(store, item_id).id)
    assert "['--name', 'a b', ';', 'rm', '-rf', '/tmp/x', '$(whoami)']" in log

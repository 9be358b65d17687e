"""A run that ended while no agent watched keeps the time it really ended (issue 16): a local
process from its exit-status file, a docker run from its container's FinishedAt."""

import os

import pytest
from kit import (
    agent_killed_after,
    containers_removed_after,  # noqa: F401  (a fixture)
    docker_queue,
    image_job,
    launch,
    make_code_job,
    make_queue,
    run_agent,
    run_of,
    wait_for,
)

from store import RunState

pytestmark = pytest.mark.slow


def test_a_run_readopted_after_its_agent_was_killed_ends_at_its_exit_status_time(
    store, db_path, tmp_path
):
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    # The job blocks reading the FIFO until the test opens and closes its other end.
    make_code_job(store, tmp_path, "gated", f"open({str(gate)!r}).read()\nraise SystemExit(3)\n")
    make_queue(store)
    item = launch(store, "gated")
    with agent_killed_after(db_path, "local"):
        running = run_of(store, item, states={RunState.RUNNING})
    # The agent is gone (SIGKILL); the job ends on its own while nobody watches.
    with open(gate, "w"):
        pass
    exit_file = store.run_dir(running.id) / "exit_code"
    wait_for(exit_file.exists, what="the job's exit status file")
    ended_at = exit_file.stat().st_mtime

    run_agent(db_path, queues=["local"])

    run = store.runs.get(running.id)
    assert (run.state, run.exit_code) == (RunState.FAILED, 3)
    assert run.ended_at == pytest.approx(ended_at, abs=1e-6)
    assert store.runs.events(run.id)[-1].at == pytest.approx(ended_at, abs=1e-6)


@pytest.mark.usefixtures("containers_removed_after")
def test_a_docker_run_readopted_after_its_agent_was_killed_ends_at_its_containers_finish_time(
    store, db_path, engine
):
    from runners.system.timestamps import unix_time

    docker_queue(store)
    # The container waits for a file that the test creates inside it (docker exec).
    image_job(store, "gated", "while [ ! -e /go ]; do sleep 0.1; done; exit 3")
    item = launch(store, "gated", "dock")
    with agent_killed_after(db_path, "dock"):
        running = run_of(store, item, states={RunState.RUNNING})
    container = engine.containers.get(running.handle["container"])
    assert container.exec_run(["touch", "/go"]).exit_code == 0
    container.wait(timeout=60)
    container.reload()
    ended_at = unix_time(container.attrs["State"]["FinishedAt"])
    assert ended_at is not None

    run_agent(db_path, queues=["dock"])

    run = store.runs.get(running.id)
    assert (run.state, run.exit_code) == (RunState.FAILED, 3)
    assert run.ended_at == pytest.approx(ended_at, abs=1e-6)
    assert run.started_at <= run.ended_at

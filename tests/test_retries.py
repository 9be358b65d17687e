"""Retries by policy (issue 16): `retry: {on, max, backoff_seconds}` on a queue or a launch;
each attempt its own item and run, linked to the first, its number in LAUNCHBAY_ATTEMPT."""

import json

import pytest
from kit import launch, make_code_job, make_queue, refusal_checker, run_agent

from store import RunState

# Fails until its third attempt; prints the attempt it was given.
FLAKY = """
import os, sys
attempt = int(os.environ["LAUNCHBAY_ATTEMPT"])
print(f"attempt={attempt}", flush=True)
sys.exit(0 if attempt >= 3 else 1)
"""


def _attempt_runs(store, first_item: int):
    items = store.items.attempts(first_item)
    return items, [store.runs.find_for_item(item.id) for item in items]


def test_a_job_failing_twice_then_succeeding_is_retried_by_its_launchs_policy(
    store, db_path, tmp_path, cli
):
    make_code_job(store, tmp_path, "flaky", FLAKY)
    make_queue(store)
    first = launch(
        store, "flaky", spec={"retry": {"on": ["failed"], "max": 3, "backoff_seconds": 0}}
    )

    run_agent(db_path, queues=["local"])

    items, runs = _attempt_runs(store, first)
    assert [i.attempt for i in items] == [1, 2, 3]
    assert [i.retry_of for i in items] == [None, first, first]
    assert [r.state for r in runs] == [RunState.FAILED, RunState.FAILED, RunState.FINISHED]
    for attempt, run in enumerate(runs, start=1):
        assert run.spec["env"]["LAUNCHBAY_ATTEMPT"] == str(attempt)
        assert f"attempt={attempt}" in store.run_log_path(run.id).read_text()
    assert runs[0].message == (
        f"exited with code 1; retrying as item {items[1].id} (attempt 2 of 4)"
    ), runs[0].message

    described = cli("runs", "describe", runs[2].id)
    assert described.code == 0 and "attempt:    3 of 4" in described.out
    as_json = json.loads(cli("runs", "describe", runs[1].id, "--json").out)
    assert as_json["attempt"] == 2


def test_a_queue_policy_stops_at_max_and_waits_out_its_backoff(store, db_path, tmp_path):
    make_code_job(store, tmp_path, "broken", "raise SystemExit(4)")
    make_queue(store, config={"retry": {"max": 1, "backoff_seconds": 0.5}})
    first = launch(store, "broken")

    run_agent(db_path, queues=["local"])

    items, runs = _attempt_runs(store, first)
    assert [r.state for r in runs] == [RunState.FAILED, RunState.FAILED]
    # The retry was not claimed before its backoff ended.
    assert items[1].not_before >= runs[0].ended_at + 0.5 - 1e-3
    assert runs[1].created_at >= items[1].not_before
    assert runs[1].message.endswith("not retried: attempt 2 of 2"), runs[1].message


def test_a_launch_may_turn_its_queues_retries_off(store, db_path, tmp_path):
    make_code_job(store, tmp_path, "broken", "raise SystemExit(4)")
    make_queue(store, config={"retry": {"max": 2, "backoff_seconds": 0}})
    first = launch(store, "broken", spec={"retry": {"max": 0}})

    run_agent(db_path, queues=["local"])

    items, runs = _attempt_runs(store, first)
    assert len(items) == 1 and runs[0].state is RunState.FAILED
    assert "LAUNCHBAY_ATTEMPT" not in runs[0].spec["env"]


@pytest.mark.parametrize(
    ("retry", "fragments"),
    [
        ({"max": -1}, ("retry.max", "from 0 to 100")),
        ({"on": ["stopped"]}, ("retry.on", "failed, crashed")),
        ({"backoff_seconds": "soon"}, ("retry.backoff_seconds", "seconds")),
        ({"tries": 3}, ("retry", "tries")),
    ],
)
def test_a_bad_retry_policy_is_refused_naming_its_key(
    store, db_path, tmp_path, cli, retry, fragments
):
    make_code_job(store, tmp_path, "flaky", FLAKY)
    make_queue(store)
    refused = refusal_checker(cli, db_path)
    refused(
        ["launch", "-j", "flaky", "-q", "local", "-c", json.dumps({"retry": retry})], *fragments
    )
    queue_config = tmp_path / "queue.json"
    queue_config.write_text(json.dumps({"retry": retry}))
    refused(
        ["queue", "create", "q2", "--resource", "local-process", "--config", str(queue_config)],
        *fragments,
    )


def test_a_retry_in_its_backoff_says_so_in_queue_describe_and_holds_nobody_up(
    store, db_path, tmp_path, cli
):
    from kit import AgentThread, run_of, wait_for

    make_code_job(store, tmp_path, "broken", "raise SystemExit(4)")
    make_code_job(store, tmp_path, "ok", "print('fine')")
    make_queue(store, config={"retry": {"max": 1, "backoff_seconds": 3600}})
    first = launch(store, "broken")
    with AgentThread(db_path, queues=["local"]):
        run_of(store, first)
        retry = wait_for(lambda: store.items.attempts(first)[1:], what="the retry")[0]
        later = launch(store, "ok")  # behind the retry in line, and not held up by it
        assert run_of(store, later).state is RunState.FINISHED
        described = cli("queue", "describe", "local")
    assert described.code == 0
    line = next(line for line in described.out.splitlines() if line.startswith(str(retry.id)))
    assert "attempt 2: a retry, waiting out its backoff" in line
    assert store.runs.find_for_item(retry.id) is None

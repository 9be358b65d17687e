"""Metrics from a container: LAUNCHBAY_METRICS_FILE names a file on a bind-mounted folder of the
run's, writable by the job's non-root user, read live by the agent; the log's protocol lines too."""

import pytest
from kit import (
    containers_removed_after,  # noqa: F401  (a fixture)
    docker_queue,
    image_job,
    launch,
    run_agent,
)

from store import RunState

pytestmark = pytest.mark.usefixtures("engine", "containers_removed_after")


def test_a_container_running_as_another_user_writes_metrics_the_agent_stores(store, db_path):
    docker_queue(store, config={"resource_args": {"user": "4321:4321"}})
    image_job(
        store,
        "metrics",
        'echo "{\\"loss\\": 0.5, \\"step\\": 1}" >> "$LAUNCHBAY_METRICS_FILE"'
        ' && echo "{\\"loss\\": 0.25, \\"step\\": 2}" >> "$LAUNCHBAY_METRICS_FILE"'
        ' && echo "LAUNCHBAY_METRICS {\\"from_log\\": 7}"',
    )
    item_id = launch(store, "metrics", queue="dock")
    run_agent(db_path)
    run = store.runs.find_for_item(item_id)
    assert run.state is RunState.FINISHED, (run.message, store.run_log_path(run.id).read_text())
    assert run.spec["env"]["LAUNCHBAY_METRICS_FILE"] == "/launchbay/metrics/metrics.jsonl"
    assert [(p.step, p.value) for p in store.metrics.points(run.id, "loss")] == [
        (1, 0.5),
        (2, 0.25),
    ]
    assert [p.value for p in store.metrics.points(run.id, "from_log")] == [7.0]

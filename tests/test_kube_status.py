"""A custom kind's run state: from its operator's own status when it has one (Kubeflow and
JobSet conditions, Volcano's state.phase), else from its pods."""

import pytest

from runners.targets.kubernetes.status import Observed, derive
from store import RunState


def _pod(name: str, phase: str, exit_code: int | None = None) -> dict:
    state = {"terminated": {"exitCode": exit_code, "reason": "Error"}} if exit_code else {}
    return {
        "metadata": {"name": name, "creationTimestamp": f"2026-11-26T00:00:0{name[-1]}Z"},
        "status": {"phase": phase, "containerStatuses": [{"state": state}]},
    }


def _object(kind: str, status: dict) -> dict:
    return {"kind": kind, "status": status}


def _conditions(**types: str) -> dict:
    return {"conditions": [{"type": t, "status": "True", "message": m} for t, m in types.items()]}


FAILED_POD = _pod("worker-1", "Failed", exit_code=137)


@pytest.mark.parametrize(
    ("obj", "pods", "state", "message"),
    [
        # The operator restarts the failed worker: not the run's end.
        (_object("PyTorchJob", _conditions(Running="")), [FAILED_POD], RunState.STARTING, ""),
        (
            _object("PyTorchJob", _conditions(Failed="Worker 1 failed 3 times")),
            [FAILED_POD],
            RunState.FAILED,
            "Worker 1 failed 3 times",
        ),
        (_object("JobSet", _conditions(Completed="")), [], RunState.FINISHED, "completed"),
        (
            _object("Job", {"state": {"phase": "Completed"}}),
            [_pod("task-1", "Succeeded")],
            RunState.FINISHED,
            "completed",
        ),
        (_object("Job", {"state": {"phase": "Aborted"}}), [], RunState.FAILED, "Aborted"),
        (_object("Job", {"state": {"phase": "Running"}}), [FAILED_POD], RunState.STARTING, ""),
        # A kind whose status says nothing we know: its pods decide.
        (_object("Thing", {}), [FAILED_POD], RunState.FAILED, "137"),
        (_object("Thing", {}), [_pod("a-1", "Succeeded")], RunState.FINISHED, "every pod"),
    ],
    ids=[
        "kubeflow-retrying",
        "kubeflow-failed",
        "jobset-completed",
        "volcano-completed",
        "volcano-aborted",
        "volcano-running",
        "unknown-pod-failed",
        "unknown-pods-succeeded",
    ],
)
def test_a_custom_kinds_own_status_decides_its_end(obj, pods, state, message):
    seen = Observed(job=obj, pods={p["metadata"]["name"]: p for p in pods})
    status = derive(seen, now=0.0, pull_grace=60.0, batch_job=False)
    assert status.state is state, status
    assert message in status.message


def test_an_ended_job_keeps_the_time_the_cluster_says_it_ended():
    def failed_job(**status) -> dict:
        condition = {
            "type": "Failed",
            "status": "True",
            "lastTransitionTime": "2026-11-26T08:00:30Z",
        }
        return _object("Job", {"conditions": [condition], **status})

    ended_pod = _pod("worker-1", "Failed", exit_code=1)
    ended_pod["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"] = (
        "2026-11-26T08:00:10Z"
    )
    cases = [
        ([ended_pod], failed_job(), 1795680010.0),  # its container's finishedAt
        ([], failed_job(), 1795680030.0),  # its pods gone: when the Job was marked failed
        ([], failed_job(completionTime="2026-11-26T08:00:20Z"), 1795680020.0),
    ]
    for pods, job, ended_at in cases:
        seen = Observed(job=job, pods={p["metadata"]["name"]: p for p in pods})
        status = derive(seen, now=0.0, pull_grace=60.0, batch_job=True)
        assert (status.state, status.ended_at) == (RunState.FAILED, ended_at), (pods, job)

"""Following a kubernetes run through what the API server says, when the server makes that hard:
watches cut and compacted while the run changes (only a relist shows it), and an image that
cannot be pulled (the queue's grace decides when that fails the run)."""

import test_kube_runner
from docker_support import REGISTRY
from helpers import AgentThread, run_of, wait_for
from support import launch
from test_kube_runner import NAMESPACE, image_job, kube_queue

from runners.cancelling import cancel_by_id
from runners.jobs import create_job
from runners.queues import check_queue_config
from store import RunState

cluster = test_kube_runner.cluster  # the fixtures, shared
kubeconfig = test_kube_runner.kubeconfig


def test_a_change_missed_while_the_watches_were_cut_is_found_by_relisting(
    store, db_path, kubeconfig, cluster
):
    kube_queue(store, kubeconfig)
    image_job(store, "victim", "echo up; sleep 300")
    item = launch(store, "victim", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        cluster.hold_watches()
        cluster.drop_watches()
        # Both watches (the Job's and its pods') are back, and wait: the client sees nothing.
        wait_for(lambda: cluster.held_watches >= 2, 30, "the resumed watches")
        cluster.delete_job_externally(NAMESPACE, run.handle["name"])
        # The deletion's events are forgotten: resuming from the version seen before gets 410,
        # and a watch that starts afresh does not show an object that is gone. Only a new
        # list does.
        cluster.compact()
        cluster.release_watches()
        run = run_of(store, item, timeout=30)
    assert run.state is RunState.FAILED, run.message
    assert "deleted by someone else" in run.error_message


def test_a_run_waits_out_the_queues_image_pull_grace_before_failing(
    store, db_path, kubeconfig, cluster
):
    target = {"kubeconfig": str(kubeconfig), "image_pull_grace_seconds": 600}
    store.queues.create("k8s", "kubernetes", check_queue_config("kubernetes", {"target": target}))
    create_job(store, "image", "ghost", f"{REGISTRY}/no/such:image", entrypoint="true")
    item = launch(store, "ghost", "k8s")
    with AgentThread(db_path):
        run = wait_for(
            lambda: (
                (r := store.runs.find_for_item(item))
                and "ImagePullBackOff" in (r.message or "")
                and r
            ),
            30,
            "the back-off on the run",
        )
        # The pull has failed for a while (ErrImagePull, then its back-off): within the
        # queue's grace, the run still starts.
        assert run.state is RunState.STARTING, run.message
        assert run.handle["pull_grace"] == 600
        cancel_by_id(store, run.id)
        run = run_of(store, item)
    assert run.state is RunState.STOPPED, run.message

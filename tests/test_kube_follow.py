"""Following a kubernetes run through what the API server says, when the server makes that hard:
watches cut and compacted while the run changes (only a relist shows it), a burst of 500s, an
image that cannot be pulled (the queue's grace decides when that fails the run; its TTL and
launchbay's hardening reach the Job). An agent restarted while its Job runs: the contract suite
(tests/runners/test_kubernetes.py)."""

from kit import (
    NAMESPACE,
    REGISTRY,
    AgentThread,
    image_job,
    kube_queue,
    launch,
    log_of,
    release_pod,
    run_of,
    wait_for,
)

from runners.agent.cancelling import cancel_by_id
from runners.catalog.jobs import create_job
from runners.catalog.queues import check_queue_config
from runners.targets.kubernetes.manifest import DEFAULT_SECURITY
from store import RunState


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
    assert "deleted outside launchbay" in run.error_message


def test_a_run_waits_out_the_queues_image_pull_grace_and_gets_its_ttl(
    store, db_path, kubeconfig, cluster
):
    target = {
        "kubeconfig": str(kubeconfig),
        "image_pull_grace_seconds": 600,
        "ttl_seconds_after_finished": 90,
    }
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
        # What the cluster got: the queue's TTL, and launchbay's hardening on the container.
        (job,) = cluster.jobs(NAMESPACE)
        assert job["spec"]["ttlSecondsAfterFinished"] == 90
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["securityContext"] == DEFAULT_SECURITY
        cancel_by_id(store, run.id)
        run = run_of(store, item)
    assert run.state is RunState.STOPPED, run.message


def test_a_run_survives_dropped_watches_and_a_burst_of_500s(
    store, db_path, kubeconfig, cluster, engine
):
    kube_queue(store, kubeconfig)
    image_job(store, "steady", "echo first; while [ ! -e /go ]; do sleep 0.1; done; echo second")
    item = launch(store, "steady", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        wait_for(lambda: "first" in log_of(store, run.id), 30, "the first line")
        cluster.fail_next(6, status=500)
        opened = cluster.store.watches_opened
        cluster.drop_watches()
        # Both watches (the Job's, its pods') resumed past the 500s before history is lost.
        wait_for(lambda: cluster.store.watches_opened >= opened + 2, 30, "the watches to resume")
        cluster.compact()  # resuming from an old version now gets 410: the client must relist
        cluster.drop_watches()
        # The pod ends only now, after every fault: its end reaches the run through them.
        (pod,) = cluster.pods(NAMESPACE, label_selector=f"launchbay.io/run-id={run.id}")
        release_pod(engine, pod)
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    assert log_of(store, run.id).splitlines() == ["first", "second"]

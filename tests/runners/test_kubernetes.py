"""The kubernetes resource: the real client against a fake API server whose pods really run, each
as a container on the test Docker engine (tests/fakes). The contract (TestContract, see
contract.py), and what only kubernetes does: scheduling and image-pull trouble, RBAC, custom
kinds, and pods running side by side (a flaky API server: test_kube_follow)."""

import pytest
import yaml
from contract import RunnerContract
from contract_backend import GIVEN_LINES, Backend, held_shell_script, seen_in_log
from kit import (
    NAMESPACE,
    REGISTRY,
    AgentThread,
    evict_pods_of,
    fresh_registry,
    image_job,
    kube_queue,
    launch,
    log_of,
    pushed_image,
    release_pod,
    run_of,
    wait_for,
)

from runners.agent.cancelling import cancel_by_id
from runners.catalog.jobs import create_job
from runners.catalog.queues import check_queue_config
from store import RunState


def test_the_queues_context_is_used_not_the_current_one(store, db_path, cluster, tmp_path):
    path = cluster.write_kubeconfig(tmp_path / "kubeconfig", namespace=NAMESPACE)
    config = yaml.safe_load(path.read_text())
    config["clusters"].append({"name": "gone", "cluster": {"server": "http://127.0.0.1:1"}})
    config["contexts"].append({"name": "gone", "context": {"cluster": "gone", "user": "fake-user"}})
    config["current-context"] = "gone"
    path.write_text(yaml.safe_dump(config))
    target = {"kubeconfig": str(path), "context": "fake", "image_pull_grace_seconds": 1}
    store.queues.create("k8s", "kubernetes", check_queue_config("kubernetes", {"target": target}))
    image_job(store, "hello", "echo from the chosen context")
    item = launch(store, "hello", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    assert run.handle["namespace"] == NAMESPACE  # the chosen context's namespace
    assert "from the chosen context" in log_of(store, run.id)


def test_an_unschedulable_pod_shows_the_schedulers_reason_and_can_be_cancelled(
    store, db_path, kubeconfig, cluster
):
    gpu_template = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "main", "resources": {"limits": {"nvidia.com/gpu": 1}}}]
                }
            }
        }
    }
    kube_queue(store, kubeconfig, resource_args=gpu_template)
    image_job(store, "gpu", "nvidia-smi")
    item = launch(store, "gpu", "k8s")
    with AgentThread(db_path):
        run = wait_for(
            lambda: (
                (r := store.runs.find_for_item(item)) and "Insufficient" in (r.message or "") and r
            ),
            30,
            "the unschedulable warning",
        )
        assert run.state is RunState.STARTING
        assert "0/3 nodes are available: 3 Insufficient nvidia.com/gpu" in run.message
        cancel_by_id(store, run.id)
        run = run_of(store, item)
    assert run.state is RunState.STOPPED
    deletes = [q for m, path, q in cluster.requests if m == "DELETE" and "/jobs/" in path]
    assert deletes and deletes[0].get("propagationPolicy") in ("Background", ["Background"])
    assert cluster.jobs(NAMESPACE) == []


def test_an_image_that_cannot_be_pulled_fails_at_stage_build_after_the_grace(
    store, db_path, kubeconfig
):
    kube_queue(store, kubeconfig)
    create_job(store, "image", "ghost", f"{REGISTRY}/no/such:image", entrypoint="true")
    item = launch(store, "ghost", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FAILED
    assert run.error_stage == "build"
    assert "could not be pulled" in run.error_message
    assert "ImagePullBackOff" in run.error_message or "ErrImagePull" in run.error_message


def test_rbac_refusal_fails_the_run_with_what_to_grant(store, db_path, kubeconfig, cluster):
    cluster.forbid("create", "jobs", NAMESPACE)
    kube_queue(store, kubeconfig)
    image_job(store, "denied", "true")
    image_job(store, "after", "true")
    item = launch(store, "denied", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item)
        assert run.state is RunState.FAILED
        assert run.error_stage == "run"
        assert "403" in run.error_message and "forbidden" in run.error_message
        assert "RBAC" in run.error_message
        cluster.permit("create", "jobs", NAMESPACE)  # the grant is made: the agent goes on
        after = run_of(store, launch(store, "after", "k8s"))
    assert after.state is RunState.FINISHED, after.message


def test_the_log_carries_on_across_a_pod_restart(store, db_path, kubeconfig, cluster):
    kube_queue(store, kubeconfig, resource_args={"spec": {"backoffLimit": 1}})
    image_job(store, "flaky", "echo attempt on $(hostname); exit 1")
    item = launch(store, "flaky", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FAILED
    attempts = [line for line in log_of(store, run.id).splitlines() if line.startswith("attempt")]
    assert len(attempts) == 2, attempts  # the first pod's output, then the retry's
    assert len(cluster.pods(NAMESPACE, label_selector=f"launchbay.io/run-id={run.id}")) == 2


def test_pods_running_side_by_side_each_reach_the_log_while_they_run(
    store, db_path, kubeconfig, cluster, engine
):
    kube_queue(store, kubeconfig, resource_args={"spec": {"parallelism": 2}})
    image_job(store, "pair", "echo up $(hostname); while [ ! -e /go ]; do sleep 0.1; done")
    item = launch(store, "pair", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        selector = f"launchbay.io/run-id={run.id}"
        pods = wait_for(
            lambda: len(found := cluster.pods(NAMESPACE, label_selector=selector)) == 2 and found,
            30,
            "the run's two pods",
        )
        ups = sorted(f"up {pod['metadata']['name']}" for pod in pods)  # a pod's hostname
        # Neither pod ends until released, so neither's log stream does: both lines can only
        # be in the log if each pod is followed on its own.
        wait_for(lambda: all(up in log_of(store, run.id) for up in ups), 30, "both pods' lines")
        assert all(p["status"]["phase"] == "Running" for p in cluster.pods(NAMESPACE, selector))
        for pod in pods:
            release_pod(engine, pod)
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    assert sorted(log_of(store, run.id).splitlines()) == ups


def test_a_pod_that_ended_and_was_read_to_its_end_is_not_read_again_each_second(
    store, db_path, kubeconfig, cluster, engine
):
    kube_queue(store, kubeconfig, resource_args={"spec": {"parallelism": 2, "completions": 2}})
    image_job(store, "pair", "echo up $(hostname); while [ ! -e /go ]; do sleep 0.1; done")
    item = launch(store, "pair", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        selector = f"launchbay.io/run-id={run.id}"
        first, second = wait_for(
            lambda: len(found := cluster.pods(NAMESPACE, label_selector=selector)) == 2 and found,
            30,
            "the run's two pods",
        )
        name, other = first["metadata"]["name"], second["metadata"]["name"]
        reads = lambda pod: sum(  # noqa: E731
            1 for method, path, _ in cluster.requests if path.endswith(f"/pods/{pod}/log")
        )
        release_pod(engine, first)
        wait_for(
            lambda: any(
                pod["metadata"]["name"] == name and pod["status"]["phase"] == "Succeeded"
                for pod in cluster.pods(NAMESPACE, label_selector=selector)
            ),
            30,
            "its end",
        )
        wait_for(lambda: f"up {name}" in log_of(store, run.id), 30, "its line")
        settled = reads(name)
        followed = lambda: f"{NAMESPACE}/{other}" in cluster.followed_logs()  # noqa: E731
        for _ in range(3):
            # Cut the other pod's log stream: the copier's next pass follows it anew, and that
            # is the evidence of one more pass while the other pod runs.
            wait_for(followed, 30, "the other pod's log followed")
            before = reads(other)
            cluster.drop_watches()
            wait_for(lambda: reads(other) > before and followed(), 30, "the next pass")  # noqa: B023
        assert reads(name) <= settled + 1  # one read after its end, at most; not one a pass
        release_pod(engine, second)
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    assert log_of(store, run.id).count(f"up {name}") == 1


def test_logs_refused_for_good_say_so_once_and_the_run_still_ends(
    store, db_path, kubeconfig, cluster
):
    cluster.forbid("get", "pods/log", NAMESPACE)
    kube_queue(store, kubeconfig, resource_args={"spec": {"parallelism": 2}})
    image_job(store, "unlogged", "echo never copied")
    item = launch(store, "unlogged", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    (note,) = log_of(store, run.id).splitlines()  # one note, however many pods were refused
    assert note.startswith("[launchbay] stopped copying the pods' logs: 403 Forbidden")


def test_another_kind_is_created_as_a_custom_object_and_deleted_on_cancel(
    store, db_path, kubeconfig, cluster
):
    volcano = {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "spec": {
            "minAvailable": 1,
            "schedulerName": "volcano",
            "tasks": [
                {"replicas": 1, "name": "worker", "template": {"spec": {"containers": [{}]}}}
            ],
        },
    }
    kube_queue(store, kubeconfig, resource_args=volcano)
    image_job(store, "gang", "echo gang")
    item = launch(store, "gang", "k8s")
    with AgentThread(db_path):
        run = wait_for(
            lambda: (r := store.runs.find_for_item(item)) and r.handle and r,
            30,
            "the run to be submitted",
        )
        (created,) = cluster.custom_objects("batch.volcano.sh", "v1alpha1", NAMESPACE, "jobs")
        pod = created["spec"]["tasks"][0]["template"]
        assert pod["metadata"]["labels"]["launchbay.io/run-id"] == run.id
        assert pod["spec"]["containers"][0]["image"] == "local/busybox:latest"
        assert created["spec"]["schedulerName"] == "volcano"
        cancel_by_id(store, run.id)
        run = run_of(store, item)
    assert run.state is RunState.STOPPED
    assert cluster.custom_objects("batch.volcano.sh", "v1alpha1", NAMESPACE, "jobs") == []


def test_rbac_refusing_to_watch_fails_the_run_with_what_to_grant(
    store, db_path, kubeconfig, cluster
):
    cluster.forbid("list", "jobs", NAMESPACE)
    cluster.forbid("watch", "jobs", NAMESPACE)
    kube_queue(store, kubeconfig)
    image_job(store, "unwatched", "echo ran")
    item = launch(store, "unwatched", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FAILED
    assert "refused to let the agent follow the run" in run.error_message
    assert "get, list and watch on jobs and pods" in run.error_message


def test_a_preempted_runs_job_is_deleted_so_it_cannot_run_beside_its_requeue(
    store, db_path, kubeconfig, cluster
):
    kube_queue(store, kubeconfig, resource_args={"spec": {"backoffLimit": 2}}, max_resumes=0)
    image_job(store, "retrying", "sleep 300")
    item = launch(store, "retrying", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        evict_pods_of(cluster, run.id)
        run = run_of(store, item)
        assert run.state is RunState.PREEMPTED
        assert "not requeued" in run.message  # max_resumes: 0 turns requeueing off
        wait_for(
            lambda: (
                not any(
                    j["metadata"]["name"] == run.handle["name"] for j in cluster.jobs(NAMESPACE)
                )
            ),
            30,
            "the preempted run's Job to be deleted",
        )


class Kubernetes(Backend):
    """The fake API server (tests/fakes/kube_api.py): each pod a container on the engine."""

    resource = "kubernetes"
    failure_says = "exited with code 3"
    escape = (
        {},
        {"spec": {"template": {"spec": {"hostNetwork": True}}}},
        (
            "resource_args.spec.template.spec.hostNetwork: hostNetwork is refused in a launch",
            "target.allow: [hostNetwork]",
        ),
    )
    preemptible = True

    def __init__(self, cluster, kubeconfig, engine):
        self.cluster, self.kubeconfig, self.engine = cluster, kubeconfig, engine

    def queue(self, store, resource_args=None, **extra):
        kube_queue(store, self.kubeconfig, "q", resource_args=resource_args, **extra)

    def held_job(self, store, name, exit_code=0):
        image_job(store, name, held_shell_script(exit_code))

    def _pods(self, run) -> list[dict]:
        return self.cluster.pods(NAMESPACE, label_selector=f"launchbay.io/run-id={run.id}")

    def release(self, store, run):
        for pod in self._pods(run):
            release_pod(self.engine, pod)

    def seen(self, store, run):
        return seen_in_log(store, run)

    def vanish(self, store, run):
        self.cluster.delete_job_externally(NAMESPACE, run.handle["name"])

    def preempt(self, store, run):
        evict_pods_of(self.cluster, run.id)

    def registry(self):
        return fresh_registry("kube-test")

    def check_finished(self, store, run):
        assert run.exit_code == 0
        assert run.handle["namespace"] == NAMESPACE
        assert run.handle["name"] == f"launchbay-{run.id}"

    def check_failed(self, store, run):
        assert run.exit_code == 3

    def check_cancelled(self, store, run):
        deletes = [q for m, path, q in self.cluster.requests if m == "DELETE" and "/jobs/" in path]
        assert deletes and deletes[0].get("propagationPolicy") in ("Background", ["Background"])
        assert self.cluster.jobs(NAMESPACE) == []

    def check_readopted(self, store, run, output):
        (job,) = [
            job
            for job in self.cluster.jobs(NAMESPACE)
            if job["metadata"]["labels"]["launchbay.io/run-id"] == run.id
        ]
        # After what the job was given: its two lines, once, and no note of launchbay's.
        assert log_of(store, run.id).splitlines()[GIVEN_LINES:] == ["before", "after"]
        assert run.handle["name"] == job["metadata"]["name"]

    def check_built(self, store, run, registry):
        assert "built and ran" in log_of(store, run.id)
        assert run.handle["image"] == pushed_image(registry["registry"])


@pytest.fixture
def backend(cluster, kubeconfig, engine):
    return Kubernetes(cluster, kubeconfig, engine)


class TestContract(RunnerContract):
    backend_class = Kubernetes

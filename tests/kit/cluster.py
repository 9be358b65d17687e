"""The fake Kubernetes API server (tests/fakes/kube_api.py) as one fixture, `cluster`, and what
a kubernetes queue on it needs. A module changes the cluster by overriding `cluster_options`:

    @pytest.fixture
    def cluster_options():
        return {**CLUSTER, "image_pull_backoff_seconds": 0.2}
"""

import pytest

from runners.catalog.queues import check_queue_config

NAMESPACE = "ml"
VOLCANO = ("batch.volcano.sh", "v1alpha1", "jobs")
CLUSTER = {
    "nodes": 3,
    "gpus_per_node": 0,
    "image_pull_backoff_seconds": 0.3,
    "namespaces": ("default", NAMESPACE),
    "custom_resources": (VOLCANO,),
}
"""FakeCluster's keyword arguments, and `allow_warnings`: whether a Warning the API server sent
(a field it dropped) is allowed; by default it fails the test at teardown."""


@pytest.fixture
def cluster_options() -> dict:
    return dict(CLUSTER)


@pytest.fixture
def cluster(engine, cluster_options):
    """A fake cluster whose pods really run on the Docker engine; at teardown, none of its
    containers is left and the fake had no bug of its own (a 500 it answered, a kubelet thread
    that crashed): that is no test's pass."""
    from fakes.kube_api import FakeCluster

    options = dict(cluster_options)
    allow_warnings = options.pop("allow_warnings", False)
    fake = FakeCluster(engine, **options)
    fake.start()
    yield fake
    fake.stop()
    left = engine.containers.list(
        all=True, filters={"label": f"fake-kube.instance={fake.instance}"}
    )
    for container in left:
        container.remove(force=True)
    assert not left, "stop() left containers behind"
    assert not fake.server_errors, fake.server_errors[0]
    if not allow_warnings:
        assert not fake.warnings  # launchbay sent no field the API server would drop


@pytest.fixture
def kubeconfig(cluster, tmp_path):
    """A kubeconfig for `cluster`, its context's namespace NAMESPACE."""
    return cluster.write_kubeconfig(tmp_path / "kubeconfig", namespace=NAMESPACE)


def kube_queue(store, kubeconfig, name="k8s", resource_args=None, **extra):
    """A kubernetes queue on the cluster of `kubeconfig`."""
    config = {
        "resource_args": resource_args or {},
        "target": {"kubeconfig": str(kubeconfig), "image_pull_grace_seconds": 1},
        **extra,
    }
    return store.queues.create(name, "kubernetes", check_queue_config("kubernetes", config))


def evict_pods_of(cluster, run_id: str) -> None:
    """Evict every pod of the run (a preemption)."""
    pods = cluster.pods(NAMESPACE, label_selector=f"launchbay.io/run-id={run_id}")
    assert pods, f"no pod for run {run_id}"
    for pod in pods:
        cluster.evict(NAMESPACE, pod["metadata"]["name"])


def release_pod(engine, pod: dict) -> None:
    """Touch /go in the pod's container: the jobs of these tests wait for it."""
    import docker

    from kit.waiting import wait_for

    label = f"fake-kube.pod={NAMESPACE}/{pod['metadata']['name']}"
    # A pod is in the API a moment before the fake's kubelet has made its container.
    (container,) = wait_for(
        lambda: engine.containers.list(filters={"label": label}), 30, f"the container of {label}"
    )

    def touched() -> bool:
        try:
            return container.exec_run(["touch", "/go"]).exit_code == 0
        except docker.errors.APIError:  # created, not started yet
            return False

    wait_for(touched, 30, "/go touched")

"""The kubernetes SDK (and kubernetes-validate), loaded on first use, and the connection to a
cluster: its API objects, from a kubeconfig and context or the in-cluster service account."""

import os
from pathlib import Path

from runners.protocol import Handle, RunnerError
from runners.targets.lazy import LazyModule
from store import Stage

client = LazyModule("kubernetes.client")
config = LazyModule("kubernetes.config")
config_exception = LazyModule("kubernetes.config.config_exception")
exceptions = LazyModule("kubernetes.client.exceptions")  # ApiException
watch = LazyModule("kubernetes.watch")
validator = LazyModule("kubernetes_validate")
validator_utils = LazyModule("kubernetes_validate.utils")


class ClusterApis:
    """The client's API objects for one cluster (kubeconfig + context)."""

    def __init__(self, api_client, default_namespace: str):
        self.api_client = api_client
        self.default_namespace = default_namespace
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    def object_list_call(self, handle: Handle):
        """(list call, its kwargs) that lists just this run's Job or custom object."""
        selector = f"metadata.name={handle['name']}"
        if handle["batch"]:
            return self.batch.list_namespaced_job, {
                "namespace": handle["namespace"],
                "field_selector": selector,
            }
        group, version = group_version(handle["api_version"])
        return self.custom.list_namespaced_custom_object, {
            "group": group,
            "version": version,
            "namespace": handle["namespace"],
            "plural": handle["plural"],
            "field_selector": selector,
        }


def group_version(api_version: str) -> tuple[str, str]:
    """("batch", "v1") of "batch/v1"; ("", "v1") of the core "v1"."""
    group, _, version = api_version.rpartition("/")
    return group, version


def connect(cluster: dict, stage: Stage) -> ClusterApis:
    """A client for the kubeconfig and context given, else $KUBECONFIG or ~/.kube/config, else
    (inside a pod) the in-cluster service account."""
    kubeconfig = cluster.get("kubeconfig")
    in_cluster = (
        not kubeconfig
        and "KUBERNETES_SERVICE_HOST" in os.environ
        and not Path(os.environ.get("KUBECONFIG", "~/.kube/config")).expanduser().exists()
    )
    try:
        if in_cluster:
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            namespace_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
            namespace = namespace_file.read_text().strip() if namespace_file.exists() else None
            return ClusterApis(client.ApiClient(configuration), namespace or "default")
        path = str(Path(kubeconfig).expanduser()) if kubeconfig else None
        api_client = config.new_client_from_config(
            config_file=path, context=cluster.get("context"), persist_config=False
        )
        _, active = config.list_kube_config_contexts(config_file=path)
        if cluster.get("context"):
            contexts, _ = config.list_kube_config_contexts(config_file=path)
            active = next((c for c in contexts if c["name"] == cluster["context"]), active)
        namespace = (active or {}).get("context", {}).get("namespace") or "default"
        return ClusterApis(api_client, namespace)
    except (config_exception.ConfigException, OSError, ValueError) as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG", "~/.kube/config")
        raise RunnerError(
            stage,
            f"cannot load the kubeconfig {where} (context {cluster.get('context') or 'current'}):"
            f" {exc}; set target.kubeconfig and target.context in the queue config",
        ) from None

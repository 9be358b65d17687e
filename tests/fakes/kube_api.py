"""A fake Kubernetes API server whose pods really run, for testing with the official client.

    cluster = FakeCluster(docker.from_env())
    cluster.start()                                   # http://127.0.0.1:PORT
    api = kubernetes.config.new_client_from_config(str(cluster.write_kubeconfig(path)))
    ...
    cluster.stop()

It serves batch/v1 Jobs, Pods (with logs), ConfigMaps and the custom objects of the CRDs it is
given, in the namespaces it is given, with lists, label/field selectors and watches (one global
resourceVersion, a replayable history, 410 when too old), and answers errors with the Status
objects a real server sends: 400 for a body of the wrong types, 422 for invalid values, 404 for
a namespace or a custom kind that does not exist; unknown fields are dropped with a Warning
header (kube_schema). A Job's pod runs as a container on the given Docker engine (see
kube_kubelet for what is and isn't emulated). Faults (RBAC refusals, 5xx, dropped or held
watches, compaction, eviction, deletion by someone else) are injected by the methods below, from
any thread. The fake's own crashes land in `server_errors`: a fixture's teardown must check it.
"""

import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from .kube_controller import JOBS, JobController
from .kube_http import KubeHTTPServer, Route
from .kube_kubelet import CONFIG_MAPS, PODS
from .kube_objects import KubeError, not_found, selector_matcher
from .kube_store import ObjectStore

# Who the fake says is calling, in RBAC refusals (launchbay runs as a service account).
USER = "system:serviceaccount:ml:launcher"


@dataclass
class _Failure:
    remaining: int
    status: int
    method: str | None
    path_contains: str | None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path_contains is None or self.path_contains in path
        )


class FakeCluster:
    """The fake API server, its job controller and its kubelet, on one Docker engine."""

    def __init__(
        self,
        docker_client,
        *,
        nodes: int = 3,
        gpus_per_node: int = 0,
        image_pull_backoff_seconds: float = 0.5,
        namespaces: tuple[str, ...] = ("default",),
        custom_resources: tuple[tuple[str, str, str], ...] = (),
    ):
        self.instance = secrets.token_hex(4)  # labels this cluster's containers
        self.server_errors: list[str] = []
        """Tracebacks of the fake's own bugs: a request's (also answered with a 500), or a
        crash of one of its kubelet's threads. A test's teardown checks it is empty."""
        self.store = ObjectStore()
        self.controller = JobController(
            self.store,
            docker_client,
            instance=self.instance,
            nodes=nodes,
            gpus_per_node=gpus_per_node,
            image_pull_backoff_seconds=image_pull_backoff_seconds,
            errors=self.server_errors,
        )
        self.requests: list[tuple[str, str, dict]] = []
        """(method, path, query) of every request received, in order."""
        self.warnings: list[str] = []
        """Every Warning the server sent (an unknown field it dropped, …), in order."""
        self.namespaces = set(namespaces)
        """The namespaces that exist: creating in another one is answered 404."""
        self.custom_resources = set(custom_resources)
        """(group, version, plural) of each CRD installed: any other custom kind is a 404."""
        self.url: str | None = None
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        self._forbidden: list[tuple[str, str, str | None]] = []
        self._server: KubeHTTPServer | None = None
        self._watches_released = threading.Event()
        self._watches_released.set()
        self._held_watches = 0

    # ---- life ---------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on 127.0.0.1 (a free port) from a daemon thread; returns the base URL."""
        self._server = KubeHTTPServer(self)
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        """Stop serving, end every stream, remove every container this cluster started."""
        self.release_watches()
        if self._server is not None:
            self._server.shutdown()
            self.drop_watches()
            self._server.server_close()
            self._server = None
        self.controller.stop()

    def write_kubeconfig(
        self, path, *, namespace: str | None = None, context: str = "fake"
    ) -> Path:
        """A kubeconfig for this server (a dummy token), `context` current."""
        if self.url is None:
            raise RuntimeError("start() the cluster before writing its kubeconfig")
        context_spec = {"cluster": "fake-cluster", "user": "fake-user"}
        if namespace:
            context_spec["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake-cluster", "cluster": {"server": self.url}}],
            "users": [{"name": "fake-user", "user": {"token": "fake-token"}}],
            "contexts": [{"name": context, "context": context_spec}],
            "current-context": context,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    # ---- fault injection ----------------------------------------------------------------------

    def forbid(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Refuse `verb` ("create", "get", "list", "watch", "delete", or "*") on `resource`
        ("jobs", "pods", "pods/log", …, or "*") in `namespace` (None: everywhere) with a 403,
        as RBAC does. "list" and "watch" are distinct verbs, as in RBAC."""
        with self._lock:
            self._forbidden.append((verb, resource, namespace))

    def permit(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Take back a forbid() of exactly these words: the grant has been made."""
        with self._lock:
            self._forbidden.remove((verb, resource, namespace))

    def fail_next(
        self,
        count: int,
        *,
        status: int = 500,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Answer the next `count` requests that match (method; a substring of the path with
        its query string) with a `status` error Status (500: InternalError)."""
        with self._lock:
            self._failures.append(_Failure(count, status, method, path_contains))

    def drop_watches(self) -> None:
        """Cut every open watch and log-follow stream mid-response (no last chunk)."""
        self.store.drop_watches()
        if self._server is not None:
            self._server.drop_log_streams()

    def hold_watches(self) -> None:
        """Make every new watch request wait (its connection open, nothing answered) until
        release_watches(): what the cluster does meanwhile reaches the client only by a list,
        or by the watch it resumes afterwards."""
        self._watches_released.clear()

    def release_watches(self) -> None:
        self._watches_released.set()

    @property
    def held_watches(self) -> int:
        """How many watch requests wait for release_watches() now."""
        with self._lock:
            return self._held_watches

    def wait_if_watches_held(self) -> None:
        """Called by the HTTP handler before it opens a watch."""
        if self._watches_released.is_set():
            return
        with self._lock:
            self._held_watches += 1
        try:
            self._watches_released.wait()
        finally:
            with self._lock:
                self._held_watches -= 1

    def followed_logs(self) -> list[str]:
        """The pods whose log is being followed now, as `namespace/name`."""
        if self._server is None:
            return []
        return [
            "{}/{}".format(*path.split("/namespaces/", 1)[1].split("/pods/", 1)).removesuffix(
                "/log"
            )
            for path in self._server.followed_logs()
        ]

    def compact(self) -> None:
        """Forget the event history: a watch from an older resourceVersion gets a 410 ERROR."""
        self.store.compact()

    def evict(self, namespace: str, pod_name: str, reason: str = "EvictionByEvictionAPI") -> None:
        """Evict a pod: condition DisruptionTarget, its container killed, phase Failed with
        status.reason Evicted; its Job counts a failure. LookupError if there is no such pod."""
        self.controller.evict(namespace, pod_name, reason)

    def delete_job_externally(self, namespace: str, name: str) -> None:
        """`kubectl delete job` by someone else (propagation Background: pods go too)."""
        self.controller.delete_job(namespace, name, "Background")

    # ---- inspection ---------------------------------------------------------------------------

    def jobs(self, namespace: str) -> list[dict]:
        return self.store.list(JOBS, namespace)[0]

    def pods(self, namespace: str, label_selector: str | None = None) -> list[dict]:
        matches = selector_matcher(label_selector, None)
        return [p for p in self.store.list(PODS, namespace)[0] if matches(p)]

    def config_maps(self, namespace: str) -> list[dict]:
        return self.store.list(CONFIG_MAPS, namespace)[0]

    def custom_objects(self, group: str, version: str, namespace: str, plural: str) -> list[dict]:
        return self.store.list((group, plural), namespace)[0]

    # ---- called by the HTTP handler, one request at a time ------------------------------------

    def serves(self, route: Route) -> bool:
        """Whether the resource exists: built in, or a custom kind whose CRD is installed."""
        if route.group in ("", "batch"):
            return True
        return (route.group, route.version, route.plural) in self.custom_resources

    def check_namespace(self, namespace: str | None) -> None:
        if namespace is not None and namespace not in self.namespaces:
            raise not_found("namespaces", "", namespace)

    def record(self, method: str, path: str, query: dict) -> None:
        with self._lock:
            self.requests.append((method, path, query))

    def inject_failure(self, method: str, raw_path: str) -> None:
        with self._lock:
            failure = next((f for f in self._failures if f.matches(method, raw_path)), None)
            if failure is None:
                return
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
        message = "injected by FakeCluster.fail_next"
        if failure.status == 500:
            message = f"Internal error occurred: {message}"
        raise KubeError(failure.status, message, details={"causes": [{"message": message}]})

    def check_allowed(self, verb: str, route: Route) -> None:
        def refused(rule):
            rule_verb, resource, namespace = rule
            return (
                rule_verb in ("*", verb)
                and resource in ("*", route.rbac_resource)
                and namespace in (None, route.namespace)
            )

        with self._lock:
            if not any(refused(rule) for rule in self._forbidden):
                return
        group = route.group
        subject = f"{route.plural}.{group}" if group else route.plural
        if route.name:
            subject += f' "{route.name}"'
        scope = (
            f'in the namespace "{route.namespace}"' if route.namespace else "at the cluster scope"
        )
        message = (
            f'{subject} is forbidden: User "{USER}" cannot {verb} resource '
            f'"{route.rbac_resource}" in API group "{group}" {scope}'
        )
        details = {
            "group": group,
            "kind": route.plural,
            **({"name": route.name} if route.name else {}),
        }
        raise KubeError(403, message, details=details)

"""The fake cluster's scheduler and kubelet: each pod really runs, as a container on the test
Docker engine, and its status follows what that container does.

Only a pod's FIRST container runs (init containers and sidecars are ignored): launchbay's pods
have one. Restarts in place (restartPolicy OnFailure) are not emulated: a failed pod stays
failed and the job controller makes a new pod, as with restartPolicy Never.
"""

import contextlib
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from .kube_objects import KubeError, docker_time, not_found, now, parse_quantity, set_condition
from .kube_store import ObjectStore

PODS = ("", "pods")
CONFIG_MAPS = ("", "configmaps")
NODE = "fake-node-0"
LABEL = "fake-kube"  # every container of every fake cluster
INSTANCE_LABEL = "fake-kube.instance"  # the containers of one FakeCluster

# What `kubectl logs` says of a container that is not running yet, by its waiting reason.
_LOG_WAITING = {
    "ErrImagePull": "image can't be pulled",
    "ImagePullBackOff": "trying and failing to pull image",
}


def _container_status(container: dict, state: dict, *, ready=False, started=False, cid="") -> dict:
    status = {
        "name": container["name"],
        "image": container["image"],
        "imageID": "",
        "ready": ready,
        "restartCount": 0,
        "started": started,
        "state": state,
        "lastState": {},
    }
    if cid:
        status["containerID"] = f"docker://{cid}"
    return status


def _pending(status: dict, container: dict, state: dict) -> None:
    status["containerStatuses"] = [_container_status(container, state)]
    for type_ in ("PodReadyToStartContainers", "Initialized"):
        set_condition(status, type_, "True")
    for type_ in ("Ready", "ContainersReady"):
        why = f"containers with unready status: [{container['name']}]"
        set_condition(status, type_, "False", "ContainersNotReady", why)


def requested_gpus(pod_spec: dict) -> float:
    total = 0.0
    for container in pod_spec.get("containers") or []:
        resources = container.get("resources") or {}
        wanted = [(resources.get(k) or {}).get("nvidia.com/gpu") for k in ("limits", "requests")]
        total += max((parse_quantity(w) for w in wanted if w is not None), default=0)
    return total


class Kubelet:
    """Runs pods (one thread each); tells the job controller when one runs and when it ends."""

    def __init__(
        self,
        store: ObjectStore,
        docker_client,
        *,
        instance: str,
        nodes: int,
        gpus_per_node: int,
        image_pull_backoff_seconds: float,
        on_pod_running: Callable[[str, str], None],
        on_pod_finished: Callable[[dict], None],
        errors: list[str] | None = None,
    ):
        self.store = store
        self.errors = errors if errors is not None else []  # tracebacks of crashed threads
        self.docker = docker_client
        self.instance = instance
        self.nodes = nodes
        self.gpus_per_node = gpus_per_node
        self.backoff = image_pull_backoff_seconds
        self.on_pod_running = on_pod_running
        self.on_pod_finished = on_pod_finished
        self.stopping = threading.Event()
        # Guards the maps below, and container creation against deletion and eviction.
        self._lock = threading.Lock()
        self._containers: dict[tuple[str, str], object] = {}
        self._evictions: dict[tuple[str, str], str] = {}
        self._temp_dirs: list[str] = []
        self._threads: list[threading.Thread] = []

    def spawn(self, target, *args) -> None:
        thread = threading.Thread(
            target=self._recorded, args=(target, *args), daemon=True, name=f"fake-kube-{args}"
        )
        self._threads.append(thread)
        thread.start()

    def _recorded(self, target, *args) -> None:
        """Run a thread's work; a crash is kept for the test to see, not lost on stderr."""
        try:
            target(*args)
        except Exception:
            self.errors.append(f"kubelet thread {target.__name__}{args}:\n{traceback.format_exc()}")

    def run_pod(self, namespace: str, name: str) -> None:
        self.spawn(self._run_guarded, namespace, name)

    def _run_guarded(self, namespace: str, name: str) -> None:
        try:
            self._run(namespace, name)
        except DockerException:
            # The pod (or the whole cluster) went away while its container was being handled.
            if self.stopping.is_set() or not self._alive(namespace, name):
                return
            raise

    def _alive(self, namespace: str, name: str) -> bool:
        pod = self.store.get(PODS, namespace, name)
        return (
            pod is not None
            and "deletionTimestamp" not in pod["metadata"]
            and (namespace, name) not in self._evictions
            and not self.stopping.is_set()
        )

    def _set_status(self, namespace: str, name: str, change) -> dict | None:
        """Change the status of a pod that is still alive (a MODIFIED event)."""

        def mutate(pod):
            if "deletionTimestamp" in pod["metadata"] or (namespace, name) in self._evictions:
                return False
            change(pod["status"])

        return self.store.update(PODS, namespace, name, mutate)

    def _run(self, namespace: str, name: str) -> None:
        pod = self.store.get(PODS, namespace, name)
        if pod is None:  # deleted before its kubelet got to it
            return
        spec = pod["spec"]
        container = spec["containers"][0]

        def show(state):  # the container's state while the pod is Pending
            self._set_status(namespace, name, lambda s: _pending(s, container, state))

        if not self._schedule(namespace, name, spec):
            return
        show({"waiting": {"reason": "ContainerCreating"}})
        image = container["image"]
        try:
            self.docker.images.get(image)
        except ImageNotFound:
            # Nothing is pulled from any network: a missing image is a failed pull.
            message = (
                f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to '
                f'pull and unpack image "{image}": failed to resolve reference "{image}": '
                f"{image}: not found"
            )
            show({"waiting": {"reason": "ErrImagePull", "message": message}})
            if not self.stopping.wait(self.backoff):
                message = f'Back-off pulling image "{image}"'
                show({"waiting": {"reason": "ImagePullBackOff", "message": message}})
            return

        binds = self._volumes(namespace, name, spec, container)
        if binds is None:
            return
        with self._lock:
            if not self._alive(namespace, name):
                return
            try:
                created = self.docker.containers.create(**self._run_args(pod, container, binds))
            except APIError as exc:
                show({"waiting": {"reason": "CreateContainerError", "message": str(exc)}})
                return
            self._containers[(namespace, name)] = created
        try:
            created.start()
        except APIError as exc:  # e.g. the command is not in the image
            self._finished(namespace, name, 128, "StartError", now(), message=exc.explanation)
            return
        if (namespace, name) in self._evictions:  # evicted between create and start
            with contextlib.suppress(APIError):
                created.kill()
        created.reload()
        started_at = docker_time(created.attrs["State"]["StartedAt"])

        def running(status):
            state = {"running": {"startedAt": started_at}}
            status["phase"] = "Running"
            status["containerStatuses"] = [
                _container_status(container, state, ready=True, started=True, cid=created.id)
            ]
            for type_ in ("Ready", "ContainersReady"):
                set_condition(status, type_, "True")

        if self._set_status(namespace, name, running):
            self.on_pod_running(namespace, name)
        exit_code = created.wait()["StatusCode"]
        created.reload()
        state = created.attrs["State"]
        reason = (
            "OOMKilled" if state.get("OOMKilled") else ("Completed" if exit_code == 0 else "Error")
        )
        self._finished(namespace, name, exit_code, reason, started_at, ended=state["FinishedAt"])

    def _schedule(self, namespace: str, name: str, spec: dict) -> bool:
        """Bind the pod to the node, or leave it Pending and Unschedulable for good (no node of
        this cluster will ever get more GPUs)."""
        if requested_gpus(spec) > self.gpus_per_node:
            n = self.nodes
            message = (
                f"0/{n} nodes are available: {n} Insufficient nvidia.com/gpu. preemption: "
                f"0/{n} nodes are available: {n} No preemption victims found for incoming pod."
            )
            self._set_status(
                namespace,
                name,
                lambda s: set_condition(s, "PodScheduled", "False", "Unschedulable", message),
            )
            return False
        # Binding, then the kubelet's first status: two events, as on a cluster.
        bound = self.store.update(PODS, namespace, name, lambda p: p["spec"].update(nodeName=NODE))

        def scheduled(status):
            status.update(hostIP="127.0.0.1", startTime=now())
            set_condition(status, "PodScheduled", "True")

        return bound is not None and self._set_status(namespace, name, scheduled) is not None

    def _finished(self, namespace, name, exit_code, reason, started_at, *, message="", ended=""):
        """The container ended: the pod becomes Succeeded or Failed, once."""
        eviction = self._evictions.get((namespace, name))

        def mutate(pod):
            status = pod["status"]
            if "deletionTimestamp" in pod["metadata"] or status["phase"] in ("Succeeded", "Failed"):
                return False
            succeeded = exit_code == 0 and eviction is None
            status["phase"] = "Succeeded" if succeeded else "Failed"
            if eviction is not None:
                status.update(reason="Evicted", message=eviction)
            container = pod["spec"]["containers"][0]
            old = (status.get("containerStatuses") or [{}])[0]
            terminated = {"exitCode": exit_code, "reason": reason, "startedAt": started_at}
            terminated["finishedAt"] = docker_time(ended) if ended else now()
            if message:
                terminated["message"] = message
            if old.get("containerID"):
                terminated["containerID"] = old["containerID"]
            cid = old.get("containerID", "").removeprefix("docker://")
            status["containerStatuses"] = [
                _container_status(container, {"terminated": terminated}, cid=cid)
            ]
            done = "PodCompleted" if succeeded else "PodFailed"
            for type_ in ("Ready", "ContainersReady"):
                set_condition(status, type_, "False", done)

        pod = self.store.update(PODS, namespace, name, mutate)
        if pod is not None:
            self.on_pod_finished(pod)

    def _run_args(self, pod: dict, container: dict, binds: dict) -> dict:
        spec, meta = pod["spec"], pod["metadata"]
        limits = (container.get("resources") or {}).get("limits") or {}
        env = [f"{e['name']}={e.get('value', '')}" for e in container.get("env") or []]
        host_network = bool(spec.get("hostNetwork"))
        args = {
            "image": container["image"],
            "entrypoint": container.get("command"),  # k8s command = docker entrypoint
            "command": container.get("args"),  # k8s args = docker cmd
            "environment": env,
            "working_dir": container.get("workingDir"),
            "network_mode": "host" if host_network else "none",  # no bridge on this engine
            "volumes": binds,
            "labels": {
                LABEL: "1",
                INSTANCE_LABEL: self.instance,
                "fake-kube.pod": f"{meta['namespace']}/{meta['name']}",
            },
            "name": f"fake-kube-{self.instance}-{meta['namespace']}-{meta['name']}",
        }
        if not host_network:  # docker refuses a hostname with the host's network
            args["hostname"] = meta["name"]
        if "memory" in limits:
            args["mem_limit"] = int(parse_quantity(limits["memory"]))
        run_as = ((container.get("securityContext") or {}).get("runAsUser")) or (
            (spec.get("securityContext") or {}).get("runAsUser")
        )
        if run_as is not None:
            args["user"] = str(run_as)
        return {k: v for k, v in args.items() if v is not None}

    def _volumes(self, namespace: str, name: str, spec: dict, container: dict) -> dict | None:
        """Docker binds for the container's volumeMounts; None if the pod went away while a
        ConfigMap it mounts was missing (the pod waits in ContainerCreating, as a kubelet)."""
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        binds = {}
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(mount["name"], {})
            mode = "ro" if mount.get("readOnly") else "rw"
            if "configMap" in volume:
                config_map = self._wait_for_config_map(namespace, name, volume["configMap"])
                if config_map is None:
                    return None
                source = self._temp_dir()
                items = volume["configMap"].get("items")
                paths = {i["key"]: i["path"] for i in items} if items else None
                for key, value in (config_map.get("data") or {}).items():
                    if paths is None or key in paths:
                        target = Path(source, paths[key] if paths else key)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_text(value)
                binds[source] = {"bind": mount["mountPath"], "mode": "ro"}
            elif "emptyDir" in volume:
                binds[self._temp_dir()] = {"bind": mount["mountPath"], "mode": "rw"}
            elif "hostPath" in volume:
                binds[volume["hostPath"]["path"]] = {"bind": mount["mountPath"], "mode": mode}
        return binds

    def _wait_for_config_map(self, namespace: str, pod: str, source: dict) -> dict | None:
        def ready():
            return (
                not self._alive(namespace, pod)
                or self.store.get(CONFIG_MAPS, namespace, source["name"]) is not None
            )

        # The store wakes us on every change; the timeout only notices stop().
        while not self.store.wait_until(ready, timeout=0.5):
            pass
        if not self._alive(namespace, pod):
            return None
        return self.store.get(CONFIG_MAPS, namespace, source["name"])

    def _temp_dir(self) -> str:
        path = tempfile.mkdtemp(prefix="fake-kube-")
        Path(path).chmod(0o755)  # readable by a container running as another user
        with self._lock:
            self._temp_dirs.append(path)
        return path

    # ---- from outside: eviction, deletion, logs, stop ---------------------------------------

    def evict(self, namespace: str, name: str, reason: str, message: str) -> None:
        def disrupt(pod):
            set_condition(pod["status"], "DisruptionTarget", "True", reason, message)

        if self.store.update(PODS, namespace, name, disrupt) is None:
            raise LookupError(f"no pod {namespace}/{name}")
        with self._lock:  # a container being created sees the eviction once created
            self._evictions[(namespace, name)] = message
            container = self._containers.get((namespace, name))
        if container is None:  # not started yet: it never will be
            self._finished(namespace, name, 137, "ContainerStatusUnknown", now())
            return
        with contextlib.suppress(APIError):  # it may have exited by itself, or not started yet
            container.kill()

    def delete_pod(self, namespace: str, name: str) -> dict | None:
        """Graceful deletion as seen from the API: deletionTimestamp, the container removed,
        then the object gone (MODIFIED then DELETED). The pod as it was, or None."""

        def terminating(pod):
            if "deletionTimestamp" in pod["metadata"]:
                return False
            pod["metadata"].update(deletionTimestamp=now(), deletionGracePeriodSeconds=30)

        before = self.store.get(PODS, namespace, name)
        if before is None or self.store.update(PODS, namespace, name, terminating) is None:
            return None
        with self._lock:
            container = self._containers.pop((namespace, name), None)
        if container is not None:
            with contextlib.suppress(NotFound, APIError):  # APIError: removal in progress
                container.remove(force=True)
        self.store.delete(PODS, namespace, name)
        return before

    def log_container(self, namespace: str, name: str, container_name: str | None):
        """(docker container, container name) whose logs are asked for; KubeError as the
        API server's when there are none yet."""
        pod = self.store.get(PODS, namespace, name)
        if pod is None:
            raise not_found("pods", "", name)
        names = [c["name"] for c in pod["spec"]["containers"]]
        if container_name is None and len(names) > 1:
            raise KubeError(
                400,
                f"a container name must be specified for pod {name}, "
                f"choose one of: [{' '.join(names)}]",
            )
        container_name = container_name or names[0]
        if container_name not in names:
            raise KubeError(400, f"container {container_name} is not valid for pod {name}")
        status = (pod["status"].get("containerStatuses") or [{}])[0]
        if container_name != names[0] or "containerID" not in status:
            reason = (status.get("state") or {}).get("waiting", {}).get("reason", "")
            why = _LOG_WAITING.get(reason, reason or "ContainerCreating")
            raise KubeError(
                400, f'container "{container_name}" in pod "{name}" is waiting to start: {why}'
            )
        try:
            cid = status["containerID"].removeprefix("docker://")
            return self.docker.containers.get(cid), container_name
        except NotFound:
            raise not_found("pods", "", name) from None

    def stop(self) -> None:
        """Stop every pod: containers removed (found by label, so none escapes), threads
        joined, temporary volumes deleted."""
        with self._lock:
            self.stopping.set()
        leftovers = self.docker.containers.list(
            all=True, filters={"label": f"{INSTANCE_LABEL}={self.instance}"}
        )
        for container in leftovers:
            with contextlib.suppress(NotFound, APIError):
                container.remove(force=True)
        deadline = time.monotonic() + 10
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for path in self._temp_dirs:
            shutil.rmtree(path, ignore_errors=True)

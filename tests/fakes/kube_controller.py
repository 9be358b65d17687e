"""The fake cluster's Job controller: validates Jobs as the API server does, makes their pods,
counts how each pod ended, retries within backoffLimit, and deletes with a propagation policy.

Pods run side by side as a NonIndexed Job's spec asks (the API server's defaults: both
completions and parallelism 1 when neither is set; parallelism 1 when only it is unset):
- up to `parallelism` pods at once, and never more than the successes still wanted;
- with `completions` set, the Job is Complete at that many successes;
- with `completions` unset (a work queue), no pod is made after the first success, and the Job
  is Complete once one pod has succeeded and none is left running;
- a failed pod is replaced while the failures stay within backoffLimit; past it the Job is
  Failed and its running pods are deleted, as the controller does.
Indexed jobs, successPolicy, podFailurePolicy, suspend and the retry back-off delay (10 s,
20 s, … on a cluster) are not emulated: a replacement pod is made at once.
"""

import copy

from .kube_kubelet import PODS, Kubelet
from .kube_objects import DNS1123_LABEL, KubeError, not_found, now, random_suffix, set_condition
from .kube_store import ObjectStore

JOBS = ("batch", "jobs")
BACKOFF_MESSAGE = "Job has reached the specified backoff limit"
COMPLETED_MESSAGE = "Reached expected number of succeeded pods"
PROPAGATION_POLICIES = ("Foreground", "Background", "Orphan")

# The DisruptionTarget message a cluster writes for each reason.
DISRUPTION_MESSAGES = {
    "EvictionByEvictionAPI": "Eviction API: evicting",
    "PreemptionByScheduler": "default-scheduler: preempting to accommodate a higher priority pod",
    "DeletionByTaintManager": "Taint manager: deleting due to NoExecute taint",
    "TerminationByKubelet": "The node was low on resource: memory.",
}

_LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def check_job(namespace: str, body: dict) -> dict:
    """The Job as the API server would store it (defaults filled), or KubeError 400/422 with
    the server's messages for what launchbay could get wrong."""
    if not isinstance(body, dict):
        raise KubeError(400, "the body of the request was in an unknown format")
    job = copy.deepcopy(body)
    meta = job.setdefault("metadata", {})
    if meta.get("namespace") not in (None, namespace):
        raise KubeError(
            400,
            "the namespace of the provided object does not match the namespace sent on the request",
        )
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + random_suffix()
    name = meta.get("name") or ""
    causes: list[dict] = []

    def invalid(field: str, message: str, reason: str = "FieldValueInvalid") -> None:
        causes.append({"reason": reason, "message": message, "field": field})

    if not name:
        invalid(
            "metadata.name",
            "Required value: name or generateName is required",
            "FieldValueRequired",
        )
    elif len(name) > 63 or not DNS1123_LABEL.match(name):
        invalid("metadata.name", f'Invalid value: "{name}": {_LABEL_RULE}')
    spec = job.setdefault("spec", {})
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    containers = pod_spec.get("containers") or []
    path = "spec.template.spec"
    if not containers:
        invalid(f"{path}.containers", "Required value", "FieldValueRequired")
    for i, container in enumerate(containers):
        field = f"{path}.containers[{i}]"
        if not container.get("name"):
            invalid(f"{field}.name", "Required value", "FieldValueRequired")
        elif not DNS1123_LABEL.match(container["name"]):
            invalid(f"{field}.name", f'Invalid value: "{container["name"]}": {_LABEL_RULE}')
        if not container.get("image"):
            invalid(f"{field}.image", "Required value", "FieldValueRequired")
        context = container.get("securityContext") or {}
        if context.get("privileged") is True and context.get("allowPrivilegeEscalation") is False:
            invalid(
                f"{field}.securityContext",
                "Invalid value: cannot set `allowPrivilegeEscalation` to false and `privileged`"
                " to true",
            )
    # The server defaults a template's restartPolicy to Always, which a Job refuses.
    restart = pod_spec.get("restartPolicy") or "Always"
    if restart not in ("OnFailure", "Never"):
        invalid(
            f"{path}.restartPolicy",
            f'Unsupported value: "{restart}": supported values: "OnFailure", "Never"',
            "FieldValueNotSupported",
        )
    if causes:
        listed = [f"{c['field']}: {c['message']}" for c in causes]
        summary = listed[0] if len(listed) == 1 else f"[{', '.join(listed)}]"
        raise KubeError(
            422,
            f'Job.batch "{name}" is invalid: {summary}',
            details={"name": name, "group": "batch", "kind": "Job", "causes": causes},
        )
    job.update(apiVersion="batch/v1", kind="Job")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1  # a parallelism alone leaves completions unset: a work queue
    for key, value in (
        ("backoffLimit", 6),
        ("parallelism", 1),
        ("completionMode", "NonIndexed"),
        ("suspend", False),
        ("podReplacementPolicy", "TerminatingOrFailed"),
    ):
        spec.setdefault(key, value)
    return job


def _ended(job: dict) -> bool:
    return any(c["type"] in ("Complete", "Failed") for c in job["status"].get("conditions") or [])


def _complete(job: dict) -> bool:
    spec, status = job["spec"], job["status"]
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is None:
        return succeeded > 0 and status.get("active", 0) == 0
    return succeeded >= spec["completions"]


def _pods_wanted(job: dict) -> int:
    """How many more pods the Job wants running now (the job controller's arithmetic)."""
    spec, status = job["spec"], job["status"]
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is None:
        wanted = 0 if succeeded else spec["parallelism"]
    else:
        wanted = min(spec["parallelism"], spec["completions"] - succeeded)
    return max(0, wanted - status.get("active", 0))


def _owner(pod: dict) -> str | None:
    refs = pod["metadata"].get("ownerReferences") or []
    return next((r["name"] for r in refs if r.get("kind") == "Job" and r.get("controller")), None)


class JobController:
    """Jobs and their pods; the kubelet it owns runs the pods."""

    def __init__(self, store: ObjectStore, docker_client, **kubelet_options):
        self.store = store
        self.kubelet = Kubelet(
            store,
            docker_client,
            on_pod_running=self._pod_running,
            on_pod_finished=self._pod_finished,
            **kubelet_options,
        )

    def create_job(self, namespace: str, body: dict) -> dict:
        """Store the Job (as the create response shows it) and start its first pod."""
        job = check_job(namespace, body)

        def prepare(job):
            uid, name = job["metadata"]["uid"], job["metadata"]["name"]
            selector = {"batch.kubernetes.io/controller-uid": uid}
            job["spec"].setdefault("selector", {"matchLabels": selector})
            labels = {**selector, "batch.kubernetes.io/job-name": name}
            labels.update({"controller-uid": uid, "job-name": name})
            template_meta = job["spec"]["template"].setdefault("metadata", {})
            template_meta["labels"] = {**(template_meta.get("labels") or {}), **labels}
            job["status"] = {}

        created = self.store.create(JOBS, namespace, job, prepare)
        self._start_pods(namespace, created["metadata"]["name"])
        return created

    def _start_pods(self, namespace: str, name: str) -> None:
        """Make the pods the Job wants now (none once it has ended or is being deleted)."""
        count = 0

        def reserve(job):
            # Counted as active in the same update that decides: two pods ending at once
            # can't both make the pod that only one of them should.
            nonlocal count
            if _ended(job) or "deletionTimestamp" in job["metadata"]:
                return False
            count = _pods_wanted(job)
            if count == 0:
                return False
            status = job["status"]
            status.setdefault("startTime", now())
            status["active"] = status.get("active", 0) + count
            status.setdefault("ready", 0)

        job = self.store.update(JOBS, namespace, name, reserve)
        for _ in range(count if job is not None and not self.kubelet.stopping.is_set() else 0):
            self._new_pod(job)

    def _new_pod(self, job: dict) -> None:
        meta, template = job["metadata"], job["spec"]["template"]
        owner = {"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "uid": meta["uid"]}
        owner.update(controller=True, blockOwnerDeletion=True)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                # The API server cuts a generateName to 58 characters: pod names fit in 63.
                "name": f"{meta['name']}-"[:58] + random_suffix(),
                "generateName": f"{meta['name']}-",
                "labels": dict(template["metadata"]["labels"]),
                "annotations": dict(template["metadata"].get("annotations") or {}),
                "ownerReferences": [owner],
            },
            "spec": {"schedulerName": "default-scheduler", **copy.deepcopy(template["spec"])},
            "status": {"phase": "Pending", "conditions": [], "qosClass": "BestEffort"},
        }
        namespace = meta["namespace"]
        self.store.create(PODS, namespace, pod)
        self.kubelet.run_pod(namespace, pod["metadata"]["name"])

    def _ready(self, job: dict) -> int:
        """The Job's pods running now (the store's lock is reentrant: callable in an update)."""
        meta = job["metadata"]
        return len(self._pods_of(meta["namespace"], meta["uid"], phases=("Running",)))

    def _pod_running(self, namespace: str, pod_name: str) -> None:
        pod = self.store.get(PODS, namespace, pod_name)
        if pod is not None and (owner := _owner(pod)):
            self.store.update(
                JOBS, namespace, owner, lambda job: job["status"].update(ready=self._ready(job))
            )

    def _pod_finished(self, pod: dict) -> None:
        """Count the pod's end in its Job: complete, failed for good, or a new pod."""
        owner = _owner(pod)
        if owner is None:  # orphaned by a deletion: nobody counts it
            return
        namespace = pod["metadata"]["namespace"]

        def count(job):
            status = job["status"]
            if _ended(job):
                return False
            status["active"] = max(0, status.get("active", 0) - 1)
            status["ready"] = self._ready(job)
            outcome = "succeeded" if pod["status"]["phase"] == "Succeeded" else "failed"
            status[outcome] = status.get(outcome, 0) + 1
            # Failures are judged first, as the controller does.
            if status.get("failed", 0) > job["spec"]["backoffLimit"]:
                status.update(active=0, ready=0)  # its pods still running are deleted
                for type_ in ("FailureTarget", "Failed"):
                    set_condition(status, type_, "True", "BackoffLimitExceeded", BACKOFF_MESSAGE)
            elif _complete(job):
                status["completionTime"] = now()
                # Since k8s 1.31 a terminal condition comes after an interim one.
                for type_ in ("SuccessCriteriaMet", "Complete"):
                    set_condition(status, type_, "True", "CompletionsReached", COMPLETED_MESSAGE)

        job = self.store.update(JOBS, namespace, owner, count)
        if job is None:
            return
        if any(c["type"] == "Failed" for c in job["status"].get("conditions") or []):
            self._in_background(self._delete_running_pods, namespace, job["metadata"]["uid"])
        else:
            self._start_pods(namespace, owner)

    def evict(self, namespace: str, pod_name: str, reason: str) -> None:
        message = DISRUPTION_MESSAGES.get(reason, reason)
        self.kubelet.evict(namespace, pod_name, reason, message)

    def delete_pod(self, namespace: str, name: str) -> dict:
        """DELETE of a pod: a running pod of a Job counts as failed (the Job's pod tracking
        finalizer), so a retry follows if the backoffLimit allows."""
        pod = self.kubelet.delete_pod(namespace, name)
        if pod is None:
            raise not_found("pods", "", name)
        if pod["status"]["phase"] not in ("Succeeded", "Failed"):
            pod["status"]["phase"] = "Failed"
            self._pod_finished(pod)
        return pod

    def delete_job(self, namespace: str, name: str, policy: str | None) -> dict:
        """The Status a DELETE answers. Pods go with Background (after the response) and
        Foreground (before the Job); Orphan leaves them running without an owner."""
        # For batch/v1 Jobs the API's default is to orphan (kubectl asks for Background).
        policy = policy or "Orphan"
        if policy not in PROPAGATION_POLICIES:
            raise KubeError(
                422,
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported '
                f'value: "{policy}": supported values: "Foreground", "Background", "Orphan"',
            )
        job = self.store.get(JOBS, namespace, name)
        if job is None:
            raise not_found("jobs", "batch", name)
        uid = job["metadata"]["uid"]
        if policy == "Orphan":
            for pod in self._pods_of(namespace, uid):
                self.store.update(
                    PODS,
                    namespace,
                    pod["metadata"]["name"],
                    lambda p: p["metadata"].pop("ownerReferences", None),
                )
            self.store.delete(JOBS, namespace, name)
        elif policy == "Background":
            self.store.delete(JOBS, namespace, name)
            self._in_background(self._delete_pods, namespace, uid)
        else:

            def foreground(job):
                job["metadata"].update(deletionTimestamp=now(), finalizers=["foregroundDeletion"])

            self.store.update(JOBS, namespace, name, foreground)
            self._in_background(self._delete_pods, namespace, uid, name)
        details = {"name": name, "group": "batch", "kind": "jobs", "uid": uid}
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    def _pods_of(self, namespace: str, job_uid: str, phases=None) -> list[dict]:
        """The Job's pods, those in one of `phases` if given."""
        return [
            p
            for p in self.store.list(PODS, namespace)[0]
            if any(r["uid"] == job_uid for r in p["metadata"].get("ownerReferences") or [])
            and (phases is None or p["status"]["phase"] in phases)
        ]

    def _delete_pods(self, namespace: str, job_uid: str, then_job: str | None = None) -> None:
        # Listed once the Job is gone or deleting: it makes no new pod from then on.
        for pod in self._pods_of(namespace, job_uid):
            self.kubelet.delete_pod(namespace, pod["metadata"]["name"])
        if then_job is not None:
            self.store.delete(JOBS, namespace, then_job)

    def _delete_running_pods(self, namespace: str, job_uid: str) -> None:
        """A failed Job's pods still running are deleted; the finished ones stay (and their
        logs), as on a cluster."""
        for pod in self._pods_of(namespace, job_uid, phases=("Pending", "Running")):
            self.kubelet.delete_pod(namespace, pod["metadata"]["name"])

    def _in_background(self, target, *args) -> None:
        # The garbage collector works after the DELETE has been answered, as on a cluster.
        self.kubelet.spawn(target, *args)

    def stop(self) -> None:
        self.kubelet.stop()

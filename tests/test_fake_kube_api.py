"""The fake Kubernetes API server (tests/fakes) seen through the official client, 37: what
launchbay's Kubernetes runner will meet there is what these tests prove.

Pods really run on the Docker engine (scripts/services/docker.sh); a missing engine fails the
`engine` fixture. What the client does on the stream faults, as seen here:
- a watch ERROR event with code 410 (after compact()) raises ApiException(status=410, reason
  "Expired: too old resource version: …"); with timeout_seconds at once, without it after one
  silent retry from the same resourceVersion. No event is yielded.
- a stream cut by drop_watches() raises urllib3.exceptions.ProtocolError("Response ended
  prematurely") from the generator (watches and followed logs alike); it never ends quietly.
"""

import json
import threading
import time
import urllib.request

import kubernetes
import pytest
from kit import BUSYBOX, CLUSTER, wait_for
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import ProtocolError

NS = "ml"


@pytest.fixture
def cluster_options():
    """More namespaces than the runner tests need, and Warnings allowed: a test here asks
    for one."""
    namespaces = ("default", NS, "team-a", "team-b", "elsewhere")
    return {
        **CLUSTER,
        "image_pull_backoff_seconds": 0.2,
        "namespaces": namespaces,
        "allow_warnings": True,
    }


@pytest.fixture
def api(cluster, tmp_path):
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
    api_client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture
def batch(api):
    return client.BatchV1Api(api)


@pytest.fixture
def core(api):
    return client.CoreV1Api(api)


def job_manifest(
    name: str, script: str, *, image: str = BUSYBOX, backoff_limit: int = 0, **container
) -> dict:
    """A Job running `sh -c SCRIPT` once, as launchbay makes them."""
    main = {"name": "main", "image": image, "command": ["sh", "-c", script], **container}
    labels = {"launchbay/run": name}  # the pods get the template's labels, not the Job's
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [main]},
            },
        },
    }


def watch_until(list_func, done, *, timeout: int = 20, **kwargs) -> list:
    """Watch (in NS) until `done(object)`; the (type, object) events seen, the last one done."""
    seen = []
    stream = watch.Watch()
    for event in stream.stream(list_func, NS, timeout_seconds=timeout, **kwargs):
        seen.append((event["type"], event["object"]))
        if done(event["object"]):
            stream.stop()
            return seen
    states = [(t, getattr(o.status, "phase", None)) for t, o in seen]
    raise AssertionError(f"the watch ended after {timeout}s without the awaited state: {states}")


def ended(pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def has_condition(type_: str, status: str = "True"):
    return lambda obj: any(
        c.type == type_ and c.status == status for c in obj.status.conditions or []
    )


def running_pod(cluster, job: str) -> dict:
    def running():
        pods = cluster.pods(NS, f"job-name={job}")
        return pods[0] if pods and pods[0]["status"]["phase"] == "Running" else None

    return wait_for(running, 20, f"the pod of {job} to run")


def status_of(error: ApiException) -> dict:
    """The Status object an error carries (its `reason` attribute is the HTTP phrase)."""
    return json.loads(error.body)


# ---- jobs run for real ----------------------------------------------------------------------


def test_a_failing_job_goes_pending_running_failed_with_its_exit_code_logs_and_condition(
    batch, core
):
    created = batch.create_namespaced_job(NS, job_manifest("fails", "echo hi; exit 3"))
    assert created.metadata.uid and created.spec.backoff_limit == 0
    since = created.metadata.resource_version

    events = watch_until(
        core.list_namespaced_pod, ended, label_selector="job-name=fails", resource_version=since
    )
    phases = [pod.status.phase for _, pod in events]
    assert list(dict.fromkeys(phases)) == ["Pending", "Running", "Failed"]
    pod = events[-1][1]
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (3, "Error")
    assert pod.metadata.labels["launchbay/run"] == "fails"
    assert pod.metadata.owner_references[0].uid == created.metadata.uid
    assert core.read_namespaced_pod_log(pod.metadata.name, NS) == "hi\n"

    jobs = watch_until(
        batch.list_namespaced_job,
        has_condition("Failed"),
        field_selector="metadata.name=fails",
        resource_version=since,
    )
    job = jobs[-1][1]
    failed = next(c for c in job.status.conditions if c.type == "Failed")
    assert (failed.reason, failed.message) == (
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert (job.status.failed, job.status.active) == (1, 0)


def test_a_succeeding_job_ends_complete(batch, core):
    created = batch.create_namespaced_job(NS, job_manifest("works", "echo done"))
    events = watch_until(
        batch.list_namespaced_job,
        has_condition("Complete"),
        field_selector="metadata.name=works",
        resource_version=created.metadata.resource_version,
    )
    job = events[-1][1]
    assert (job.status.succeeded, job.status.active) == (1, 0)
    assert job.status.completion_time is not None
    (pod,) = core.list_namespaced_pod(NS, label_selector="job-name=works").items
    assert pod.status.phase == "Succeeded"
    assert pod.status.container_statuses[0].state.terminated.reason == "Completed"


def test_a_container_over_its_memory_limit_is_oom_killed(batch, core):
    manifest = job_manifest(
        "greedy", "head -c 100m /dev/zero | tail", resources={"limits": {"memory": "16Mi"}}
    )
    batch.create_namespaced_job(NS, manifest)
    events = watch_until(core.list_namespaced_pod, ended, label_selector="job-name=greedy")
    terminated = events[-1][1].status.container_statuses[0].state.terminated
    assert (terminated.reason, terminated.exit_code) == ("OOMKilled", 137)


def test_jobs_are_listed_across_namespaces_by_label(batch):
    batch.create_namespaced_job("team-a", job_manifest("one", "true"))
    batch.create_namespaced_job("team-b", job_manifest("two", "true"))
    listed = batch.list_job_for_all_namespaces(label_selector="launchbay/run in (one,two)")
    assert sorted((j.metadata.namespace, j.metadata.name) for j in listed.items) == [
        ("team-a", "one"),
        ("team-b", "two"),
    ]
    assert batch.list_job_for_all_namespaces(label_selector="launchbay/run=none").items == []


def test_a_failed_pod_is_retried_with_a_new_pod_until_the_backoff_limit(batch, cluster):
    batch.create_namespaced_job(NS, job_manifest("retried", "exit 1", backoff_limit=1))

    def failed_for_good():
        job = cluster.jobs(NS)[0]
        return any(c["type"] == "Failed" for c in job["status"].get("conditions", []))

    wait_for(failed_for_good, 20, "the job to fail")
    pods = cluster.pods(NS, "job-name=retried")
    assert len({p["metadata"]["name"] for p in pods}) == 2
    assert [p["status"]["phase"] for p in pods] == ["Failed", "Failed"]
    assert cluster.jobs(NS)[0]["status"]["failed"] == 2


# A pod that runs until released, then exits with the code released with.
HELD = "echo up; while [ ! -e /go ]; do sleep 0.1; done; exit $(cat /go)"


def release(engine, pod: str, exit_code: int = 0) -> None:
    (container,) = engine.containers.list(filters={"label": f"fake-kube.pod={NS}/{pod}"})
    # Renamed into place: the pod never reads a half-written file.
    result = container.exec_run(["sh", "-c", f"echo {exit_code} > /go.new && mv /go.new /go"])
    assert result.exit_code == 0, result.output


def running_pods(cluster, job: str) -> set[str]:
    pods = cluster.pods(NS, f"job-name={job}")
    return {p["metadata"]["name"] for p in pods if p["status"]["phase"] == "Running"}


def job_status(cluster, name: str) -> dict:
    return next(j for j in cluster.jobs(NS) if j["metadata"]["name"] == name)["status"]


def held_job(name: str, **spec) -> dict:
    manifest = job_manifest(name, HELD)
    manifest["spec"].update(spec)
    return manifest


def job_once(batch, name: str, condition: str):
    """The Job (a client model) once it has `condition`."""
    events = watch_until(
        batch.list_namespaced_job, has_condition(condition), field_selector=f"metadata.name={name}"
    )
    return events[-1][1]


def test_a_job_runs_up_to_parallelism_pods_at_once_until_its_completions(batch, cluster, engine):
    batch.create_namespaced_job(NS, held_job("fanout", parallelism=2, completions=3))
    wait_for(lambda: job_status(cluster, "fanout").get("ready") == 2, 20, "two pods to run")
    first, second = running_pods(cluster, "fanout")
    assert job_status(cluster, "fanout")["active"] == 2
    assert len(cluster.pods(NS, "job-name=fanout")) == 2

    release(engine, first)  # a third completion is still wanted: one more pod
    (third,) = wait_for(
        lambda: running_pods(cluster, "fanout") - {first, second}, 20, "a third pod"
    )
    release(engine, second)
    release(engine, third)
    job = job_once(batch, "fanout", "Complete")
    assert (job.status.succeeded, job.status.active) == (3, 0)
    pods = cluster.pods(NS, "job-name=fanout")
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"] * 3


def test_a_work_queue_job_makes_no_pod_after_a_success_and_completes_once_all_have_ended(
    batch, cluster, engine
):
    created = batch.create_namespaced_job(NS, held_job("queue", parallelism=2))
    assert created.spec.completions is None  # parallelism alone: the server leaves it unset
    wait_for(lambda: job_status(cluster, "queue").get("ready") == 2, 20, "two pods to run")
    first, second = running_pods(cluster, "queue")

    release(engine, first)
    wait_for(lambda: job_status(cluster, "queue").get("succeeded") == 1, 20, "a success")
    status = job_status(cluster, "queue")
    assert status["active"] == 1 and not status.get("conditions")  # the other still works
    release(engine, second)
    job = job_once(batch, "queue", "Complete")
    assert (job.status.succeeded, job.status.active) == (2, 0)
    assert len(cluster.pods(NS, "job-name=queue")) == 2


def test_a_parallel_job_failing_past_its_backoff_limit_deletes_its_running_pods(
    batch, cluster, engine
):
    batch.create_namespaced_job(NS, held_job("split", parallelism=2, backoffLimit=0))
    wait_for(lambda: job_status(cluster, "split").get("ready") == 2, 20, "two pods to run")
    failing, other = sorted(running_pods(cluster, "split"))

    release(engine, failing, exit_code=1)
    assert job_once(batch, "split", "Failed").status.failed == 1
    wait_for(lambda: len(cluster.pods(NS, "job-name=split")) == 1, 20, "the running pod to go")
    (left,) = cluster.pods(NS, "job-name=split")
    assert (left["metadata"]["name"], left["status"]["phase"]) == (failing, "Failed")
    assert engine.containers.list(filters={"label": f"fake-kube.pod={NS}/{other}"}) == []


def test_config_map_volumes_env_and_args_reach_the_container(batch, core, cluster):
    manifest = job_manifest("configured", "", workingDir="/scratch")
    main = manifest["spec"]["template"]["spec"]["containers"][0]
    main.update(
        command=["sh"],
        args=["/etc/lb/run.sh", "from-args"],
        env=[{"name": "GREETING", "value": "hello"}],
        volumeMounts=[
            {"name": "cfg", "mountPath": "/etc/lb"},
            {"name": "tmp", "mountPath": "/scratch"},
        ],
    )
    manifest["spec"]["template"]["spec"]["volumes"] = [
        {"name": "cfg", "configMap": {"name": "run-config"}},
        {"name": "tmp", "emptyDir": {}},
    ]
    batch.create_namespaced_job(NS, manifest)

    # Its ConfigMap missing, the pod waits in ContainerCreating (as a kubelet waits to mount).
    def creating():
        pods = cluster.pods(NS, "job-name=configured")
        statuses = pods[0]["status"].get("containerStatuses") if pods else None
        return statuses and statuses[0]["state"]["waiting"]["reason"] == "ContainerCreating"

    wait_for(creating, 10, "the pod to wait for its ConfigMap")
    script = "echo $GREETING $1 from $(pwd); touch ok && ls"
    config_map = {"metadata": {"name": "run-config"}, "data": {"run.sh": script}}
    core.create_namespaced_config_map(NS, config_map)
    events = watch_until(core.list_namespaced_pod, ended, label_selector="job-name=configured")
    pod = events[-1][1]
    assert pod.status.phase == "Succeeded"
    assert (
        core.read_namespaced_pod_log(pod.metadata.name, NS) == "hello from-args from /scratch\nok\n"
    )
    assert [cm["metadata"]["name"] for cm in cluster.config_maps(NS)] == ["run-config"]


# ---- API errors -----------------------------------------------------------------------------


def test_creating_a_job_twice_is_a_409_already_exists(batch):
    batch.create_namespaced_job(NS, job_manifest("twice", "true"))
    with pytest.raises(ApiException) as error:
        batch.create_namespaced_job(NS, job_manifest("twice", "true"))
    assert error.value.status == 409
    assert status_of(error.value)["reason"] == "AlreadyExists"
    assert status_of(error.value)["message"] == 'jobs.batch "twice" already exists'


def test_an_invalid_job_is_a_422_naming_each_wrong_field(batch, cluster):
    manifest = job_manifest("Bad_Name", "true")
    manifest["spec"]["template"]["spec"] = {"containers": []}
    with pytest.raises(ApiException) as error:
        batch.create_namespaced_job(NS, manifest)
    assert error.value.status == 422
    status = status_of(error.value)
    assert status["reason"] == "Invalid"
    assert [c["field"] for c in status["details"]["causes"]] == [
        "metadata.name",
        "spec.template.spec.containers",
        "spec.template.spec.restartPolicy",
    ]
    assert cluster.jobs(NS) == []


def test_a_forbidden_verb_is_a_403_with_the_rbac_message(batch, cluster):
    cluster.forbid("create", "jobs", NS)
    with pytest.raises(ApiException) as error:
        batch.create_namespaced_job(NS, job_manifest("refused", "true"))
    assert error.value.status == 403
    assert status_of(error.value)["reason"] == "Forbidden"
    assert status_of(error.value)["message"] == (
        'jobs.batch is forbidden: User "system:serviceaccount:ml:launcher" cannot create '
        'resource "jobs" in API group "batch" in the namespace "ml"'
    )
    assert batch.list_namespaced_job(NS).items == []  # only that verb is refused
    batch.create_namespaced_job("elsewhere", job_manifest("allowed", "true"))


def test_fail_next_gives_that_many_500s_then_success(batch, cluster):
    cluster.fail_next(2, method="GET", path_contains="/jobs")
    for _ in range(2):
        with pytest.raises(ApiException) as error:
            batch.list_namespaced_job(NS)
        assert error.value.status == 500
        assert status_of(error.value)["reason"] == "InternalError"
    assert batch.list_namespaced_job(NS).items == []
    assert len([r for r in cluster.requests if r[1].endswith("/jobs")]) == 3  # no hidden retry


def test_missing_objects_and_unknown_paths_are_404_statuses(batch, core):
    with pytest.raises(ApiException) as error:
        batch.read_namespaced_job("nowhere", NS)
    assert error.value.status == 404
    assert status_of(error.value)["message"] == 'jobs.batch "nowhere" not found'
    with pytest.raises(ApiException) as error:
        core.list_namespaced_secret(NS)
    assert error.value.status == 404


# ---- watches --------------------------------------------------------------------------------


def test_a_watch_resumed_after_compaction_raises_410_expired(core, cluster):
    old = core.create_namespaced_config_map(NS, {"metadata": {"name": "a"}}).metadata
    core.create_namespaced_config_map(NS, {"metadata": {"name": "b"}})
    cluster.compact()
    for timeout in ({"timeout_seconds": 5}, {}):  # without a timeout the client retries once
        with pytest.raises(ApiException) as error:
            next(
                watch.Watch().stream(
                    core.list_namespaced_config_map,
                    NS,
                    resource_version=old.resource_version,
                    **timeout,
                )
            )
        assert error.value.status == 410
        assert error.value.reason.startswith("Expired: too old resource version: ")
    # A relist gives a resourceVersion that can be watched from again.
    listed = core.list_namespaced_config_map(NS).metadata.resource_version
    core.create_namespaced_config_map(NS, {"metadata": {"name": "after"}})
    stream = watch.Watch().stream(
        core.list_namespaced_config_map, NS, resource_version=listed, timeout_seconds=5
    )
    event = next(stream)
    assert (event["type"], event["object"].metadata.name) == ("ADDED", "after")
    stream.close()


def test_drop_watches_cuts_watches_and_log_follows_with_a_protocol_error(batch, core, cluster):
    batch.create_namespaced_job(NS, job_manifest("long", "echo started; sleep 30"))
    pod = running_pod(cluster, "long")["metadata"]["name"]
    pods = watch.Watch().stream(core.list_namespaced_pod, NS, timeout_seconds=30)
    assert next(pods)["type"] == "ADDED"  # from no resourceVersion: the current objects first
    logs = core.read_namespaced_pod_log(pod, NS, follow=True, _preload_content=False)
    log_chunks = logs.stream()
    assert next(log_chunks) == b"started\n"

    threading.Timer(0.2, cluster.drop_watches).start()
    started = time.monotonic()
    with pytest.raises(ProtocolError, match="Response ended prematurely"):
        list(pods)
    with pytest.raises(ProtocolError):
        list(log_chunks)
    assert time.monotonic() - started < 5


# ---- logs -----------------------------------------------------------------------------------


def test_followed_logs_stream_lines_while_the_container_runs(batch, core, cluster, engine):
    # line1, then the rest only once the test has seen line1 arrive and releases the pod.
    script = "echo line1; while [ ! -e /go ]; do sleep 0.1; done; echo line2; echo line3"
    batch.create_namespaced_job(NS, job_manifest("chatty", script))
    pod = running_pod(cluster, "chatty")["metadata"]["name"]

    response = core.read_namespaced_pod_log(pod, NS, follow=True, _preload_content=False)
    received = []
    for chunk in response.stream():
        phase = cluster.pods(NS, "job-name=chatty")[0]["status"]["phase"]
        received.append((chunk.decode(), phase))
        if len(received) == 1:
            release(engine, pod)
    assert "".join(text for text, _ in received) == "line1\nline2\nline3\n"
    assert received[0] == ("line1\n", "Running")  # live, not after the end

    stamped = core.read_namespaced_pod_log(pod, NS, timestamps=True, tail_lines=1)
    stamp, line = stamped.rstrip("\n").split(" ")
    assert line == "line3" and stamp.endswith("Z") and "T" in stamp
    # Client 37 has no since_time (its OpenAPI lacks sinceTime); the server takes it.
    url = f"{cluster.url}/api/v1/namespaces/{NS}/pods/{pod}/log?sinceTime={stamp}"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"line3\n"


# ---- scheduling, images, eviction, deletion -------------------------------------------------


def test_a_pod_wanting_a_gpu_on_gpu_less_nodes_stays_pending_unschedulable(batch, core):
    manifest = job_manifest("wants-gpu", "true", resources={"limits": {"nvidia.com/gpu": "1"}})
    batch.create_namespaced_job(NS, manifest)
    events = watch_until(
        core.list_namespaced_pod,
        has_condition("PodScheduled", "False"),
        label_selector="job-name=wants-gpu",
    )
    pod = events[-1][1]
    scheduled = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert scheduled.reason == "Unschedulable"
    assert scheduled.message == (
        "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are "
        "available: 3 No preemption victims found for incoming pod."
    )
    assert pod.status.phase == "Pending"


def test_a_missing_image_goes_err_image_pull_then_image_pull_backoff(batch, core):
    image = "127.0.0.1:5000/never/pushed:1"
    created = batch.create_namespaced_job(NS, job_manifest("no-image", "true", image=image))

    def waiting(pod):
        statuses = pod.status.container_statuses or []
        return statuses[0].state.waiting.reason if statuses and statuses[0].state.waiting else None

    events = watch_until(
        core.list_namespaced_pod,
        lambda p: waiting(p) == "ImagePullBackOff",
        label_selector="job-name=no-image",
        resource_version=created.metadata.resource_version,  # every change since the create
    )
    reasons = [waiting(pod) for _, pod in events if waiting(pod)]
    assert list(dict.fromkeys(reasons)) == ["ContainerCreating", "ErrImagePull", "ImagePullBackOff"]
    pod = events[-1][1]
    assert (
        pod.status.container_statuses[0].state.waiting.message
        == f'Back-off pulling image "{image}"'
    )
    with pytest.raises(ApiException) as error:
        core.read_namespaced_pod_log(pod.metadata.name, NS)
    assert error.value.status == 400
    assert status_of(error.value)["message"] == (
        f'container "main" in pod "{pod.metadata.name}" is waiting to start: '
        "trying and failing to pull image"
    )


def test_an_evicted_pod_gets_disruption_target_and_its_job_fails(batch, core, cluster):
    created = batch.create_namespaced_job(NS, job_manifest("evicted", "sleep 30"))
    pod = running_pod(cluster, "evicted")["metadata"]["name"]
    cluster.evict(NS, pod)
    events = watch_until(
        core.list_namespaced_pod,
        ended,
        label_selector="job-name=evicted",
        resource_version=created.metadata.resource_version,
    )
    evicted = events[-1][1]
    assert (evicted.status.phase, evicted.status.reason) == ("Failed", "Evicted")
    target = next(c for c in evicted.status.conditions if c.type == "DisruptionTarget")
    assert (target.status, target.reason) == ("True", "EvictionByEvictionAPI")
    assert evicted.status.container_statuses[0].state.terminated.exit_code == 137
    wait_for(lambda: has_condition("Failed")(batch.read_namespaced_job("evicted", NS)), 10)


@pytest.mark.parametrize("policy", ["Background", "Foreground"])
def test_deleting_a_job_with_propagation_removes_its_pods_and_containers(
    batch, cluster, engine, policy
):
    batch.create_namespaced_job(NS, job_manifest("doomed", "sleep 30"))
    pod = running_pod(cluster, "doomed")["metadata"]["name"]
    label = {"label": f"fake-kube.pod={NS}/{pod}"}
    assert engine.containers.list(filters=label)

    # Client 37 returns the Status as a plain dict here (its return type is `object`).
    status = batch.delete_namespaced_job("doomed", NS, propagation_policy=policy)
    assert status["status"] == "Success"
    assert (status["details"]["name"], status["details"]["kind"]) == ("doomed", "jobs")
    wait_for(lambda: not cluster.jobs(NS), 10, "the job to go")  # Foreground: after its pods
    wait_for(lambda: not cluster.pods(NS, "job-name=doomed"), 10, "the pods to go")
    assert engine.containers.list(all=True, filters=label) == []
    deletes = [q for method, path, q in cluster.requests if method == "DELETE"]
    assert deletes == [{"propagationPolicy": policy}]


def test_deleting_a_job_without_a_policy_orphans_its_pods_as_the_api_does(batch, cluster):
    batch.create_namespaced_job(NS, job_manifest("orphaning", "sleep 30"))
    running_pod(cluster, "orphaning")
    batch.delete_namespaced_job("orphaning", NS)
    (pod,) = cluster.pods(NS, "job-name=orphaning")
    assert pod["status"]["phase"] == "Running"
    assert "ownerReferences" not in pod["metadata"]


def test_a_job_deleted_by_someone_else_disappears_from_a_watch(batch, cluster):
    created = batch.create_namespaced_job(NS, job_manifest("taken", "sleep 30"))
    cluster.delete_job_externally(NS, "taken")
    jobs = watch.Watch()
    seen = []
    for event in jobs.stream(
        batch.list_namespaced_job,
        NS,
        resource_version=created.metadata.resource_version,
        timeout_seconds=10,
    ):
        seen.append(event["type"])
        if event["type"] == "DELETED":
            jobs.stop()
    assert seen[-1] == "DELETED"
    wait_for(lambda: not cluster.pods(NS), 10, "the pods to go")


# ---- custom objects -------------------------------------------------------------------------


def test_custom_objects_are_created_read_listed_and_deleted(api, cluster):
    custom = client.CustomObjectsApi(api)
    where = ("batch.volcano.sh", "v1alpha1", NS, "jobs")
    body = {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": "vc"},
        "spec": {"minAvailable": 1, "tasks": []},
    }
    created = custom.create_namespaced_custom_object(*where, body)
    meta = created["metadata"]
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"]
    assert custom.get_namespaced_custom_object(*where, "vc")["spec"] == body["spec"]
    assert [
        o["metadata"]["name"] for o in custom.list_namespaced_custom_object(*where)["items"]
    ] == ["vc"]
    assert cluster.custom_objects(*where) and cluster.pods(NS) == []  # no pods for them
    custom.delete_namespaced_custom_object(*where, "vc")
    with pytest.raises(ApiException) as error:
        custom.get_namespaced_custom_object(*where, "vc")
    assert error.value.status == 404

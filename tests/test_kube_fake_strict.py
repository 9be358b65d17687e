"""The fake API server answers a bad body as the real one does, so a test against it catches what
a cluster would refuse: 400 for a wrong type, 422 for an invalid value, 404 for a namespace or a
custom kind that does not exist, an unknown field dropped with a Warning; and a crash of the fake
itself (a request's or a kubelet thread's) is kept for the fixture's teardown to fail on."""

import json
import urllib.error
import urllib.request

import pytest
import test_fake_kube_api
from kit import wait_for
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from test_fake_kube_api import NS, job_manifest, status_of

cluster_options = test_fake_kube_api.cluster_options  # the fixtures, shared
api = test_fake_kube_api.api
batch = test_fake_kube_api.batch
core = test_fake_kube_api.core


JOBS = f"/apis/batch/v1/namespaces/{NS}/jobs"
CONFIG_MAPS = f"/api/v1/namespaces/{NS}/configmaps"


def _post(cluster, path: str, body: dict) -> tuple[int, list[str], dict]:
    """(status code, Warning headers, JSON answer) of a raw POST: the official client's own
    models would refuse these bodies before they reach any server."""
    request = urllib.request.Request(
        cluster.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get_all("Warning") or [], json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_all("Warning") or [], json.load(error)


def _refused(call, *args) -> dict:
    with pytest.raises(ApiException) as caught:
        call(*args)
    return status_of(caught.value)


@pytest.mark.parametrize(
    ("where", "value", "fragments"),
    [
        (("spec", "backoffLimit"), "lots", ["unmarshal string", "Job.spec.backoffLimit"]),
        (("spec", "template", "spec", "containers"), {"name": "main"}, ["unmarshal object"]),
        (("metadata", "labels"), {"tier": 1}, ["unmarshal number", "Job.metadata.labels.tier"]),
    ],
    ids=["int-as-string", "list-as-object", "label-as-number"],
)
def test_a_job_with_a_wrong_type_is_a_400(cluster, where, value, fragments):
    body = job_manifest("typed", "true")
    node = body
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    code, _, status = _post(cluster, JOBS, body)
    assert (code, status["code"], status["reason"]) == (400, 400, "BadRequest")
    assert 'Job in version "v1" cannot be handled as a Job' in status["message"]
    for fragment in fragments:
        assert fragment in status["message"]
    assert cluster.jobs(NS) == []


def test_a_config_map_with_non_string_data_is_a_400(cluster):
    body = {"metadata": {"name": "cfg"}, "data": {"lr": 0.1}}
    code, _, status = _post(cluster, CONFIG_MAPS, body)
    assert code == 400
    assert "cannot unmarshal number into Go struct field ConfigMap.data.lr" in status["message"]
    assert cluster.config_maps(NS) == []


def test_unknown_fields_are_dropped_with_a_warning(cluster):
    body = job_manifest("loose", "true", cpus=2)
    body["spec"]["retries"] = 3
    code, warnings, created = _post(cluster, JOBS, body)
    assert code == 201
    assert sorted(warnings) == [
        '299 - "unknown field \\"spec.retries\\""',
        '299 - "unknown field \\"spec.template.spec.containers[0].cpus\\""',
    ]
    assert "retries" not in created["spec"]
    (stored,) = cluster.jobs(NS)
    assert "retries" not in stored["spec"]
    assert "cpus" not in stored["spec"]["template"]["spec"]["containers"][0]
    assert sorted(cluster.warnings) == [
        'unknown field "spec.retries"',
        'unknown field "spec.template.spec.containers[0].cpus"',
    ]


def test_a_privileged_container_that_may_not_escalate_is_a_422(batch, cluster):
    context = {"privileged": True, "allowPrivilegeEscalation": False}
    body = job_manifest("contradiction", "true", securityContext=context)
    status = _refused(batch.create_namespaced_job, NS, body)
    assert (status["code"], status["reason"]) == (422, "Invalid")
    (cause,) = status["details"]["causes"]
    assert cause["field"] == "spec.template.spec.containers[0].securityContext"
    assert (
        "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"
        in (cause["message"])
    )


def test_creating_in_a_namespace_that_does_not_exist_is_a_404(batch, core, cluster):
    status = _refused(batch.create_namespaced_job, "nowhere", job_manifest("lost", "true"))
    assert (status["code"], status["reason"]) == (404, "NotFound")
    assert status["message"] == 'namespaces "nowhere" not found'
    assert status["details"] == {"name": "nowhere", "kind": "namespaces"}
    body = {"metadata": {"name": "cfg"}, "data": {"a": "b"}}
    assert _refused(core.create_namespaced_config_map, "nowhere", body)["code"] == 404


def test_a_custom_kind_without_its_crd_is_a_404(api, cluster):
    custom = client.CustomObjectsApi(api)
    body = {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "metadata": {"name": "ddp"}}
    create = (custom.create_namespaced_custom_object, "kubeflow.org", "v1", NS, "pytorchjobs")
    status = _refused(*create, body)
    assert (status["code"], status["reason"]) == (404, "NotFound")
    assert status["message"] == "the server could not find the requested resource"
    listing = (custom.list_namespaced_custom_object, "kubeflow.org", "v1", NS, "pytorchjobs")
    assert _refused(*listing)["code"] == 404
    # Installed, the same kind is served.
    cluster.custom_resources.add(("kubeflow.org", "v1", "pytorchjobs"))
    created = create[0](*create[1:], body)
    assert created["metadata"]["name"] == "ddp"


def test_a_crash_of_a_kubelet_thread_is_kept_for_the_teardown(cluster):
    def broken_pod_worker():
        raise RuntimeError("the fake's own bug")

    cluster.controller.kubelet.spawn(broken_pod_worker)
    errors = wait_for(lambda: list(cluster.server_errors), 10, "the crash")
    assert "broken_pod_worker" in errors[0]
    assert "RuntimeError: the fake's own bug" in errors[0]
    cluster.server_errors.clear()  # seen: the fixture's teardown would fail on it otherwise


def test_a_crash_while_serving_is_answered_500_and_kept(batch, cluster, monkeypatch):
    def broken(*_):
        raise KeyError("spec")

    monkeypatch.setattr(cluster.controller, "create_job", broken)
    status = _refused(batch.create_namespaced_job, NS, job_manifest("boom", "true"))
    assert status["code"] == 500
    assert "fake API server bug" in status["message"]
    assert len(cluster.server_errors) == 1 and "KeyError" in cluster.server_errors[0]
    cluster.server_errors.clear()
    json.dumps(status)  # a Status object, as the client expects

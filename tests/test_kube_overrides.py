"""Launch overrides that would weaken a kubernetes queue's sandbox or run one item many times:
each refused (exit 2, one line naming the field, store unchanged) unless the queue's
`target.allow` grants it, at launch and again when an agent claims the item; and the hardening
every container gets by default, as the dry run shows it."""

import json

import pytest
import test_kube_args
from test_kube_args import _add_queue, _claimed_after_queue_edit, _launch, _pod

from runners.targets.kubernetes.manifest import DEFAULT_SECURITY
from store import ItemState


def _container(**fields) -> dict:
    return _pod({"containers": [{"name": "main", **fields}]})


def _pod_annotations(annotations: dict) -> dict:
    return {"spec": {"template": {"metadata": {"annotations": annotations}}}}


kube_world = test_kube_args.kube_world  # the fixtures, shared
refused = test_kube_args.refused

APPARMOR = "container.apparmor.security.beta.kubernetes.io/main"
SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
POD = "spec.template.spec"
CONTAINER = "spec.template.spec.containers[0]"

WEAKENING = [
    # resource_args, the path refused, the name to grant
    pytest.param(
        _pod({"securityContext": {"seLinuxOptions": {"type": "spc_t"}}}),
        f"{POD}.securityContext.seLinuxOptions",
        "securityContext",
        id="seLinux-pod",
    ),
    pytest.param(
        _container(securityContext={"seLinuxOptions": {"level": "s0"}}),
        f"{CONTAINER}.securityContext.seLinuxOptions",
        "securityContext",
        id="seLinux-container",
    ),
    pytest.param(
        _pod_annotations({APPARMOR: "unconfined"}),
        f"spec.template.metadata.annotations.{APPARMOR}",
        "securityContext",
        id="apparmor-annotation",
    ),
    pytest.param(
        _pod_annotations({SECCOMP_POD: "unconfined"}),
        f"spec.template.metadata.annotations.{SECCOMP_POD}",
        "securityContext",
        id="seccomp-annotation",
    ),
    pytest.param(
        _pod({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}),
        f"{POD}.securityContext.appArmorProfile",
        "securityContext",
        id="apparmor-pod",
    ),
    pytest.param(
        _container(securityContext={"appArmorProfile": {"type": "Unconfined"}}),
        f"{CONTAINER}.securityContext.appArmorProfile",
        "securityContext",
        id="apparmor-container",
    ),
    pytest.param(
        _pod({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}),
        f"{POD}.securityContext.seccompProfile",
        "securityContext",
        id="seccomp-pod",
    ),
    pytest.param(
        _container(securityContext={"seccompProfile": {"type": "Unconfined"}}),
        f"{CONTAINER}.securityContext.seccompProfile",
        "securityContext",
        id="seccomp-container",
    ),
    pytest.param(
        _container(
            securityContext={"seccompProfile": {"type": "Localhost", "localhostProfile": "x.json"}}
        ),
        f"{CONTAINER}.securityContext.seccompProfile",
        "securityContext",
        id="seccomp-localhost",
    ),
    pytest.param(
        _pod({"shareProcessNamespace": True}),
        f"{POD}.shareProcessNamespace",
        "shareProcessNamespace",
        id="shareProcessNamespace",
    ),
    pytest.param(
        _container(
            volumeMounts=[{"name": "d", "mountPath": "/d", "mountPropagation": "Bidirectional"}]
        ),
        f"{CONTAINER}.volumeMounts[0].mountPropagation",
        "mountPropagation",
        id="bidirectional",
    ),
    pytest.param(
        _container(
            volumeMounts=[{"name": "d", "mountPath": "/d", "mountPropagation": "HostToContainer"}]
        ),
        f"{CONTAINER}.volumeMounts[0].mountPropagation",
        "mountPropagation",
        id="host-to-container",
    ),
    pytest.param(
        _pod({"runtimeClassName": "runc-unsandboxed"}),
        f"{POD}.runtimeClassName",
        "runtimeClassName",
        id="runtimeClassName",
    ),
    pytest.param(
        _pod({"securityContext": {"fsGroup": 0}}),
        f"{POD}.securityContext.fsGroup",
        "securityContext",
        id="fsGroup-0",
    ),
    pytest.param(
        _pod({"securityContext": {"runAsGroup": 0}}),
        f"{POD}.securityContext.runAsGroup",
        "securityContext",
        id="runAsGroup-0",
    ),
    pytest.param(
        _pod({"securityContext": {"supplementalGroups": [1000, 0]}}),
        f"{POD}.securityContext.supplementalGroups",
        "securityContext",
        id="supplementalGroups-0",
    ),
    pytest.param(
        _container(securityContext={"runAsGroup": 0}),
        f"{CONTAINER}.securityContext.runAsGroup",
        "securityContext",
        id="container-runAsGroup-0",
    ),
    pytest.param({"spec": {"backoffLimit": 6}}, "spec.backoffLimit", "repeats", id="backoffLimit"),
    pytest.param({"spec": {"completions": 5}}, "spec.completions", "repeats", id="completions"),
    pytest.param({"spec": {"parallelism": 4}}, "spec.parallelism", "repeats", id="parallelism"),
    pytest.param(
        _pod({"restartPolicy": "OnFailure"}), f"{POD}.restartPolicy", "repeats", id="onFailure"
    ),
    pytest.param(
        _pod({"priorityClassName": "system-cluster-critical"}),
        f"{POD}.priorityClassName",
        "scheduling",
        id="priorityClassName",
    ),
]


@pytest.mark.parametrize(("resource_args", "where", "name"), WEAKENING)
def test_a_launch_cannot_weaken_the_queue_or_repeat_the_item_unless_granted(
    db_path, refused, cli, resource_args, where, name
):
    for extra in ([], ["--dry-run"]):
        refused(
            _launch("k8s", resource_args) + extra,
            f"resource_args.{where}: {name} is refused in a launch",
            f"target.allow: [{name}]",
        )
    _add_queue(db_path, "granted", {"target": {"allow": [name]}})
    result = cli(*_launch("granted", resource_args), "--dry-run")
    assert result.code == 0, result.err


@pytest.mark.parametrize(
    "resource_args",
    [
        {"spec": {"backoffLimit": 0, "completions": 1, "parallelism": 1}},
        _pod({"restartPolicy": "Never"}),
        _container(securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
        _pod_annotations({APPARMOR: "runtime/default"}),
        _container(volumeMounts=[{"name": "d", "mountPath": "/d", "mountPropagation": "None"}]),
    ],
    ids=["launchbay-defaults", "never", "runtime-default", "apparmor-default", "no-propagation"],
)
def test_a_launch_repeating_what_launchbay_fills_in_is_accepted(kube_world, cli, resource_args):
    result = cli(*_launch("k8s", resource_args), "--dry-run")
    assert result.code == 0, result.err


def test_a_launch_may_repeat_the_queues_own_runtime_class_but_not_change_it(
    db_path, kube_world, refused, cli
):
    _add_queue(db_path, "gvisor", {"resource_args": _pod({"runtimeClassName": "gvisor"})})
    result = cli(*_launch("gvisor", _pod({"runtimeClassName": "gvisor"})), "--dry-run")
    assert result.code == 0, result.err
    refused(
        _launch("gvisor", _pod({"runtimeClassName": "runc"})),
        f"resource_args.{POD}.runtimeClassName: runtimeClassName is refused in a launch",
    )


def test_a_launch_may_lower_the_queues_repeats_but_not_raise_them(
    db_path, kube_world, refused, cli
):
    _add_queue(db_path, "retrying", {"resource_args": {"spec": {"backoffLimit": 3}}})
    for lower in (3, 1, 0):
        result = cli(*_launch("retrying", {"spec": {"backoffLimit": lower}}), "--dry-run")
        assert result.code == 0, result.err
        assert json.loads(result.out)["submission"]["manifest"]["spec"]["backoffLimit"] == lower
    refused(
        _launch("retrying", {"spec": {"backoffLimit": 4}}),
        "resource_args.spec.backoffLimit: repeats is refused in a launch",
    )


def test_a_jobsets_restarts_are_refused_in_a_launch_too(db_path, kube_world, refused):
    _add_queue(
        db_path,
        "jobset",
        {"resource_args": {"apiVersion": "jobset.x-k8s.io/v1alpha2", "kind": "JobSet"}},
    )
    refused(
        _launch("jobset", {"spec": {"failurePolicy": {"maxRestarts": 3}}}),
        "resource_args.spec.failurePolicy.maxRestarts: repeats is refused in a launch",
    )


@pytest.mark.parametrize(
    ("resource_args", "refusal"),
    [
        ({"spec": {"backoffLimit": 3}}, "spec.backoffLimit: repeats is refused"),
        (
            _pod_annotations({APPARMOR: "unconfined"}),
            f"annotations.{APPARMOR}: securityContext is refused",
        ),
    ],
    ids=["repeats", "apparmor"],
)
def test_a_grant_taken_back_refuses_the_waiting_item_at_claim(
    db_path, kube_world, cli, resource_args, refusal
):
    _add_queue(db_path, "lenient", {"target": {"allow": ["repeats", "securityContext"]}})
    item, run = _claimed_after_queue_edit(cli, db_path, "lenient", resource_args, {})
    assert item.state is ItemState.FAILED
    assert item.error_stage == "agent"
    assert "the queue's config no longer allows it" in item.error_message
    assert refusal in item.error_message
    assert run is None  # nothing reached the cluster


def _dry_run_pod(cli, queue: str) -> dict:
    result = cli("launch", "-j", "img", "-q", queue, "--dry-run")
    assert result.code == 0, result.err
    return json.loads(result.out)["submission"]["manifest"]["spec"]["template"]["spec"]


def test_every_container_is_hardened_by_default(db_path, kube_world, cli):
    _add_queue(
        db_path,
        "plain",
        {"resource_args": _pod({"initContainers": [{"name": "setup", "image": "busybox"}]})},
    )
    pod = _dry_run_pod(cli, "plain")
    (setup,) = pod["initContainers"]
    (main,) = pod["containers"]
    assert setup["securityContext"] == main["securityContext"] == DEFAULT_SECURITY
    assert DEFAULT_SECURITY == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_what_the_queues_template_says_wins_over_the_default_hardening(db_path, kube_world, cli):
    template = _pod(
        {
            "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}},
            "containers": [
                {"name": "main", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}},
                {"name": "debug", "image": "busybox", "securityContext": {"privileged": True}},
            ],
        }
    )
    _add_queue(db_path, "owned", {"resource_args": template})
    pod = _dry_run_pod(cli, "owned")
    main, debug = pod["containers"]
    assert main["securityContext"] == {
        "capabilities": {"add": ["NET_ADMIN"]},  # the queue's, not drop: [ALL]
        "allowPrivilegeEscalation": False,
    }  # no seccompProfile: the pod's Localhost one applies
    # privileged with allowPrivilegeEscalation: false is refused by the API server
    assert debug["securityContext"] == {"privileged": True, "capabilities": {"drop": ["ALL"]}}
    assert pod["securityContext"]["seccompProfile"]["type"] == "Localhost"


def test_the_ttl_after_finished_is_the_queues(db_path, kube_world, cli):
    _add_queue(db_path, "short-lived", {"target": {"ttl_seconds_after_finished": 90}})
    result = cli("launch", "-j", "img", "-q", "short-lived", "--dry-run")
    assert result.code == 0, result.err
    assert json.loads(result.out)["submission"]["manifest"]["spec"]["ttlSecondsAfterFinished"] == 90

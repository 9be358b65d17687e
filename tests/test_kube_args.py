"""What a kubernetes queue and launch may ask for, checked before anything reaches a cluster:
the manifest validated offline (the path of a bad field named), and the sandbox escapes that
only the queue's own config can grant. Each refusal: one line, exit code 2, store unchanged."""

import json

import pytest
from kit import refusal_checker

from runners.targets.kubernetes.manifest import DEFAULT_SECURITY
from store import ItemState, Store

JOB_TEMPLATE = {
    "spec": {
        "template": {
            "spec": {
                "serviceAccountName": "trainer",
                "containers": [{"name": "main", "resources": {"limits": {"memory": "1Gi"}}}],
            }
        }
    }
}


@pytest.fixture
def kube_world(db_path, tmp_path):
    from runners.catalog.jobs import create_job
    from runners.catalog.queues import check_queue_config

    store = Store.open(db_path)
    try:
        for name, config in (
            ("k8s", {"resource_args": JOB_TEMPLATE, "target": {"namespace": "ml"}}),
            ("k8s-host", {"target": {"allow": ["hostNetwork", "hostPath"]}}),
        ):
            store.queues.create(name, "kubernetes", check_queue_config("kubernetes", config))
        create_job(store, "image", "img", "local/busybox:latest", entrypoint="echo hi")
        code = tmp_path / "code"
        code.mkdir()
        (code / "main.py").write_text("print('hi')\n")
        create_job(store, "code", "code", str(code))
    finally:
        store.close()


@pytest.fixture
def refused(kube_world, db_path, cli):
    return refusal_checker(cli, db_path)


def _launch(queue: str, resource_args: dict, job: str = "img") -> list[str]:
    return ["launch", "-j", job, "-q", queue, "-c", json.dumps({"resource_args": resource_args})]


def _pod(spec: dict) -> dict:
    return {"spec": {"template": {"spec": spec}}}


def test_a_dry_run_shows_the_manifest_the_cluster_will_get(kube_world, cli):
    result = cli("launch", "-j", "img", "-q", "k8s", "-a", "--fast", "--dry-run")
    assert result.code == 0, result.err
    manifest = json.loads(result.out)["submission"]["manifest"]
    assert (manifest["apiVersion"], manifest["kind"]) == ("batch/v1", "Job")
    assert manifest["metadata"]["name"] == "launchbay-dryrun00"
    assert manifest["metadata"]["namespace"] == "ml"
    assert manifest["metadata"]["labels"]["launchbay.io/run-id"] == "dryrun00"
    assert manifest["metadata"]["labels"]["launchbay.io/queue"] == "k8s"
    assert manifest["spec"]["backoffLimit"] == 0
    assert manifest["spec"]["ttlSecondsAfterFinished"] == 3600
    pod = manifest["spec"]["template"]
    assert pod["metadata"]["labels"]["launchbay.io/run-id"] == "dryrun00"
    assert pod["spec"]["restartPolicy"] == "Never"
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "local/busybox:latest"
    assert container["command"] == ["echo", "hi"]
    assert container["args"] == ["--fast"]
    assert container["resources"] == {"limits": {"memory": "1Gi"}}  # the queue's template
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["LAUNCHBAY_RUN_ID"] == "dryrun00"
    assert env["LAUNCHBAY_CONFIG_FILE"] == "/launchbay/config.json"
    assert {"name": "launchbay-config", "mountPath": "/launchbay", "readOnly": True} in container[
        "volumeMounts"
    ]


@pytest.mark.parametrize(
    ("resource_args", "fragments"),
    [
        ({"spec": {"backoffLimit": "lots"}}, ["resource_args.spec.backoffLimit", "not of type"]),
        (
            _pod({"containers": [{"name": "main", "cpus": 2}]}),
            ["resource_args.spec.template.spec.containers[0]", "'cpus' was unexpected"],
        ),
        (
            _pod({"restartPolicy": 7}),
            ["resource_args.spec.template.spec.restartPolicy", "not of type 'string'"],
        ),
    ],
    ids=["wrong-type", "unknown-field", "restart-policy"],
)
def test_a_manifest_that_fails_validation_is_refused_with_the_path_of_the_bad_field(
    refused, resource_args, fragments
):
    refused(_launch("k8s", resource_args), *fragments)
    refused(_launch("k8s", resource_args) + ["--dry-run"], *fragments)


@pytest.mark.parametrize(
    ("resource_args", "where", "name"),
    [
        (_pod({"hostNetwork": True}), "spec.template.spec.hostNetwork", "hostNetwork"),
        (_pod({"hostPID": True}), "spec.template.spec.hostPID", "hostPID"),
        (
            _pod({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}),
            "spec.template.spec.volumes[0].hostPath",
            "hostPath",
        ),
        (
            _pod({"containers": [{"name": "main", "securityContext": {"privileged": True}}]}),
            "spec.template.spec.containers[0].securityContext.privileged",
            "privileged",
        ),
        (
            _pod(
                {
                    "containers": [
                        {"name": "main", "securityContext": {"allowPrivilegeEscalation": True}}
                    ]
                }
            ),
            "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
            "allowPrivilegeEscalation",
        ),
        (
            _pod({"containers": [{"name": "m", "ports": [{"containerPort": 80, "hostPort": 80}]}]}),
            "spec.template.spec.containers[0].ports[0].hostPort",
            "hostPort",
        ),
        (
            _pod({"serviceAccountName": "cluster-admin"}),
            "spec.template.spec.serviceAccountName",
            "serviceAccountName",
        ),
    ],
    ids=["hostNetwork", "hostPID", "hostPath", "privileged", "escalation", "hostPort", "sa"],
)
def test_a_launch_cannot_escape_the_sandbox_its_queue_does_not_grant(
    refused, resource_args, where, name
):
    refused(
        _launch("k8s", resource_args),
        f"resource_args.{where}: {name} is refused in a launch",
        f"target.allow: [{name}]",
    )


def test_what_the_queue_grants_a_launch_may_use(kube_world, cli):
    granted = _pod(
        {
            "hostNetwork": True,
            "containers": [{"name": "main", "volumeMounts": [{"name": "d", "mountPath": "/d"}]}],
            "volumes": [{"name": "d", "hostPath": {"path": "/data"}}],
        }
    )
    result = cli(*_launch("k8s-host", granted), "--dry-run")
    assert result.code == 0, result.err
    pod = json.loads(result.out)["submission"]["manifest"]["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert {"name": "d", "hostPath": {"path": "/data"}} in pod["volumes"]


def test_a_relaunch_repeating_the_queues_own_service_account_is_accepted(kube_world, cli):
    # The TUI's relaunch passes the previous item's resource_args, queue settings included.
    result = cli(*_launch("k8s", JOB_TEMPLATE), "--dry-run")
    assert result.code == 0, result.err


def _add_queue(db_path, name: str, config: dict) -> None:
    from runners.catalog.queues import check_queue_config

    store = Store.open(db_path)
    try:
        store.queues.create(name, "kubernetes", check_queue_config("kubernetes", config))
    finally:
        store.close()


HARDENED = _pod(
    {
        "automountServiceAccountToken": False,
        "containers": [
            {
                "name": "main",
                "securityContext": {
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }
)


@pytest.mark.parametrize(
    "resource_args, where",
    [
        (
            _pod({"containers": [{"name": "main", "resources": {"limits": {"cpu": "2"}}}]}),
            "spec.template.spec.containers[0].securityContext.runAsNonRoot:"
            " the queue sets true here",
        ),
        (
            _pod(
                {
                    "containers": [
                        {
                            "name": "main",
                            "securityContext": {"runAsNonRoot": True, "capabilities": {"drop": []}},
                        }
                    ]
                }
            ),
            "spec.template.spec.containers[0].securityContext.capabilities.drop:"
            ' the queue sets ["ALL"] here',
        ),
        (
            _pod({"automountServiceAccountToken": None}),
            "spec.template.spec.automountServiceAccountToken: the queue sets false here",
        ),
        (
            _pod(
                {
                    "containers": [
                        HARDENED["spec"]["template"]["spec"]["containers"][0],
                        {"name": "side", "image": "evil:1"},
                    ]
                }
            ),
            "spec.template.spec.containers[1]: a launch may not add a container",
        ),
        (
            _pod({"initContainers": [{"name": "setup", "image": "evil:1"}]}),
            "spec.template.spec.initContainers[0]: a launch may not add a container",
        ),
    ],
    ids=["containers-replaced", "drop-emptied", "token-unset", "sidecar", "init-container"],
)
def test_a_launch_cannot_drop_the_queues_hardening(
    db_path, kube_world, refused, resource_args, where
):
    _add_queue(db_path, "k8s-hard", {"resource_args": HARDENED})
    refused(
        _launch("k8s-hard", resource_args),
        f"resource_args.{where}",
        "target.allow: [securityContext]",
    )


def test_a_launch_keeping_the_queues_hardening_may_change_the_rest(db_path, kube_world, cli):
    _add_queue(db_path, "k8s-hard", {"resource_args": HARDENED})
    _add_queue(
        db_path, "k8s-soft", {"resource_args": HARDENED, "target": {"allow": ["securityContext"]}}
    )
    kept = json.loads(json.dumps(HARDENED))
    kept["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "2"}}
    stricter = {"drop": ["NET_RAW", "ALL"]}  # keeps the queue's drop: [ALL]
    kept["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"] = stricter
    result = cli(*_launch("k8s-hard", kept), "--dry-run")
    assert result.code == 0, result.err
    (container,) = json.loads(result.out)["submission"]["manifest"]["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["resources"] == {"limits": {"cpu": "2"}}
    # A queue that grants securityContext lets a launch replace it.
    replaced = _pod({"containers": [{"name": "main"}]})
    result = cli(*_launch("k8s-soft", replaced), "--dry-run")
    assert result.code == 0, result.err
    (container,) = json.loads(result.out)["submission"]["manifest"]["spec"]["template"]["spec"][
        "containers"
    ]
    # The queue's runAsNonRoot is gone; only launchbay's own defaults are left.
    assert container["securityContext"] == DEFAULT_SECURITY


def test_a_code_job_needs_a_registry_on_a_kubernetes_queue(refused):
    refused(
        ["launch", "-j", "code", "-q", "k8s"],
        "registry: queue k8s has none",
        "pulls from the queue's registry",
    )


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ({"target": {"kubecfg": "x"}}, ["target.kubecfg: unknown key", "kubeconfig"]),
        ({"target": {"allow": ["root"]}}, ["target.allow.0"]),
        ({"max_resumes": -1}, ["max_resumes: -1", "0 to 100"]),
        ({"resource_args": {"kind": "Job", "spec": {"parallelism": "x"}}}, ["spec.parallelism"]),
        (
            {"resource_args": {"apiVersion": "batch/v1", "kind": "Jobb"}},
            ["resource_args.kind: 'Jobb' is not a kind of batch/v1 in Kubernetes 1.33"],
        ),
        # Checked against the queue's own version: a Job's managedBy came in 1.30.
        (
            {
                "resource_args": {"spec": {"managedBy": "kueue.x-k8s.io/multikueue"}},
                "target": {"kubernetes_version": "1.29"},
            },
            ["resource_args.spec", "'managedBy' was unexpected"],
        ),
        (
            {"resource_args": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingresss"}},
            ["resource_args.kind: 'Ingresss' is not a kind of networking.k8s.io/v1"],
        ),
        (
            {"target": {"kubernetes_version": "1.24"}},
            ["target.kubernetes_version: '1.24'; expected one of 1.25 to"],
        ),
    ],
    ids=[
        "target-key",
        "allow",
        "max-resumes",
        "manifest",
        "misspelt-kind",
        "misspelt-k8s-io-kind",
        "version",
        "unknown-version",
    ],
)
def test_a_bad_kubernetes_queue_config_is_refused(refused, config, fragments):
    refused(["queue", "create", "bad", "-r", "kubernetes", "-c", json.dumps(config)], *fragments)


def test_a_docker_queue_takes_no_target_block(refused):
    refused(
        ["queue", "create", "d", "-r", "docker", "-c", '{"target": {"namespace": "x"}}'],
        "target: docker queues take no target settings",
    )


def test_a_queue_variable_inside_a_host_path_must_be_an_enum(refused):
    config = {
        "resource_args": _pod({"volumes": [{"name": "d", "hostPath": {"path": "{{dir}}"}}]}),
        "template_variables": {"dir": {"type": "string", "default": "/data"}},
    }
    refused(
        ["queue", "create", "loose", "-r", "kubernetes", "-c", json.dumps(config)],
        "template_variables.dir",
        "sets resource_args.spec.template.spec.volumes",
    )


@pytest.mark.parametrize(
    ("resource_args", "fragments"),
    [
        (
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding"},
            ["resource_args.apiVersion", "what kind of object"],
        ),
        ({"metadata": {"namespace": "kube-system"}}, ["resource_args.metadata.namespace"]),
        (
            _pod({"volumes": [{"name": "s", "secret": {"secretName": "prod-db"}}]}),
            ["spec.template.spec.volumes: volumes is refused in a launch"],
        ),
        (
            _pod(
                {
                    "containers": [
                        {
                            "name": "main",
                            "env": [
                                {
                                    "name": "DB",
                                    "valueFrom": {"secretKeyRef": {"name": "prod", "key": "pw"}},
                                }
                            ],
                        }
                    ]
                }
            ),
            ["secretKeyRef: secrets is refused in a launch"],
        ),
        (
            _pod({"securityContext": {"runAsUser": 0}}),
            ["securityContext.runAsUser: securityContext is refused"],
        ),
        (_pod({"nodeName": "gpu-node-7"}), ["nodeName: scheduling is refused"]),
        (
            _pod({"automountServiceAccountToken": True}),
            ["automountServiceAccountToken: serviceAccountName is refused"],
        ),
    ],
    ids=["kind", "namespace", "secret-volume", "secret-env", "root", "node", "token"],
)
def test_a_launch_cannot_reach_secrets_other_kinds_or_namespaces(refused, resource_args, fragments):
    refused(_launch("k8s", resource_args), *fragments)


def test_secret_env_values_are_hidden_in_a_dry_run(kube_world, cli):
    pod = _pod({"containers": [{"name": "main", "env": [{"name": "HF_TOKEN", "value": "hf_x1"}]}]})
    result = cli(*_launch("k8s", pod), "--dry-run")
    assert result.code == 0, result.err
    assert "hf_x1" not in result.out
    manifest = json.loads(result.out)["submission"]["manifest"]
    env = manifest["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "HF_TOKEN", "value": "***"} in env


def _claimed_after_queue_edit(cli, db_path, queue: str, launch_args: dict, config: dict):
    """Launch on `queue`, then give the queue `config`, then let an agent claim the item;
    returns the item and its run (None if it never got one)."""
    from kit import run_agent

    from runners.catalog.queues import check_queue_config

    launched = cli(*_launch(queue, launch_args), "--json")
    assert launched.code == 0, launched.err
    item_id = json.loads(launched.out)["id"]
    store = Store.open(db_path)
    try:
        store.queues.update(queue, config=check_queue_config("kubernetes", config))
        run_agent(db_path, queues=[queue])  # returns: the agent is not brought down
        item = store.items.get(item_id)
        return item, store.runs.get(item.run_id) if item.run_id else None
    finally:
        store.close()


def test_a_grant_taken_back_reaches_the_items_already_waiting(kube_world, db_path, cli):
    item, run = _claimed_after_queue_edit(cli, db_path, "k8s-host", _pod({"hostNetwork": True}), {})
    assert item.state is ItemState.FAILED
    assert item.error_stage == "agent"
    assert "the queue's config no longer allows it" in item.error_message
    assert "spec.template.spec.hostNetwork: hostNetwork is refused" in item.error_message
    assert run is None  # nothing reached the cluster


TIER = {"type": "string", "enum": ["gold", "silver"], "default": "gold"}


def test_a_variable_added_to_the_queue_later_does_not_stop_the_check_at_claim(
    kube_world, db_path, cli
):
    labelled = {
        "resource_args": {"metadata": {"labels": {"tier": "{{tier}}", "team": "{{team}}"}}},
        # No default for team: the waiting launch has no value for it.
        "template_variables": {"tier": TIER, "team": {"type": "string"}},
    }
    item, _ = _claimed_after_queue_edit(
        cli, db_path, "k8s", _pod({"nodeSelector": {"pool": "a"}}), labelled
    )
    assert item.state is ItemState.FAILED
    assert "--set-var team: the queue's config needs it now" in item.error_message


def test_a_variable_with_a_default_added_later_lets_the_waiting_launch_through(
    kube_world, db_path, cli
):
    labelled = {
        "resource_args": {"metadata": {"labels": {"tier": "{{tier}}"}}},
        "template_variables": {"tier": TIER},
        "target": {"kubeconfig": "/nonexistent/kubeconfig"},
    }
    _, run = _claimed_after_queue_edit(
        cli, db_path, "k8s", _pod({"nodeSelector": {"pool": "a"}}), labelled
    )
    assert run is not None  # claimed: the check at claim let it through
    assert run.error_stage == "run"  # there is no cluster here


def test_custom_kinds_are_left_to_their_crd(kube_world, cli):
    for api_version, kind in (
        ("jobset.x-k8s.io/v1alpha2", "JobSet"),
        ("kubeflow.org/v1", "PyTorchJob"),
    ):
        config = json.dumps({"resource_args": {"apiVersion": api_version, "kind": kind}})
        result = cli("queue", "create", kind.lower(), "-r", "kubernetes", "-c", config)
        assert result.code == 0, result.err


def test_every_pod_template_of_a_custom_kind_without_an_image_runs_the_job(kube_world, cli):
    def replicas(count: int, container: dict) -> dict:
        return {"replicas": count, "template": {"spec": {"containers": [container]}}}

    pytorch = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "spec": {
            "pytorchReplicaSpecs": {
                "Master": replicas(1, {"name": "pytorch"}),
                "Worker": replicas(3, {"name": "pytorch"}),
                "Monitor": replicas(1, {"name": "mon", "image": "monitor:1", "args": ["--x"]}),
            }
        },
    }
    config = json.dumps({"resource_args": pytorch})
    assert cli("queue", "create", "ddp", "-r", "kubernetes", "-c", config).code == 0
    result = cli("launch", "-j", "img", "-q", "ddp", "-a", "--epochs 2", "--dry-run")
    assert result.code == 0, result.err
    specs = json.loads(result.out)["submission"]["manifest"]["spec"]["pytorchReplicaSpecs"]
    for role in ("Master", "Worker"):
        (container,) = specs[role]["template"]["spec"]["containers"]
        assert container["image"] == "local/busybox:latest"
        assert (container["command"], container["args"]) == (["echo", "hi"], ["--epochs", "2"])
    (monitor,) = specs["Monitor"]["template"]["spec"]["containers"]
    assert (monitor["image"], monitor["args"], "command" in monitor) == (
        "monitor:1",
        ["--x"],
        False,
    )
    for role in ("Master", "Worker", "Monitor"):
        pod = specs[role]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["LAUNCHBAY_RUN_ID"] == "dryrun00"
        assert {"name": "launchbay-config", "mountPath": "/launchbay", "readOnly": True} in (
            container["volumeMounts"]
        )
        assert specs[role]["template"]["metadata"]["labels"]["launchbay.io/run-id"] == "dryrun00"

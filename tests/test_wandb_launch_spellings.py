"""W&B's other spellings of what a queue or a launch says: an empty entry point, a Kubernetes
config's top-level namespace, a launch's builder block, W&B's `--gpus` values against the GPU
rules; and what launchbay does with several containers in one pod. Bad input is refused with
one line naming the field (exit 2, store unchanged)."""

import json

import pytest
from kit import refusal_checker, write_code_job

from store import Store

IMAGE = "registry.example.com/train:1"


@pytest.fixture
def world(db_path, tmp_path):
    from runners.catalog.jobs import create_job

    store = Store.open(db_path)
    try:
        create_job(store, "image", "img", IMAGE, entrypoint="python train.py")
        create_job(store, "code", "code", str(write_code_job(tmp_path / "src", "print(1)\n")))
    finally:
        store.close()


@pytest.fixture
def refused(world, db_path, cli):
    return refusal_checker(cli, db_path)


def _queue(cli, name: str, resource: str, resource_args: dict) -> None:
    config = json.dumps({"resource_args": resource_args})
    result = cli("queue", "create", name, "-r", resource, "-c", config)
    assert result.code == 0, result.err


def _dry_run(cli, queue: str, spec: dict | None = None) -> dict:
    args = ["launch", "-j", "img", "-q", queue, "--dry-run", "-a", "--epochs 3"]
    result = cli(*args, *(["-c", json.dumps(spec)] if spec else []))
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.mark.parametrize("empty", [[], ""])
def test_an_empty_entry_point_in_a_launch_config_runs_the_jobs_own(world, cli, empty):
    assert cli("queue", "create", "box", "-r", "docker").code == 0
    spec = _dry_run(cli, "box", {"overrides": {"entry_point": empty}})
    assert spec["entry_point"] == ["python", "train.py"]
    assert spec["args"] == ["--epochs", "3"]


def test_a_top_level_namespace_is_the_manifests_namespace(world, cli, refused):
    _queue(cli, "ns", "kubernetes", {"namespace": "ml"})
    manifest = _dry_run(cli, "ns")["submission"]["manifest"]
    assert manifest["metadata"]["namespace"] == "ml"
    assert "namespace" not in manifest
    # A launch moving the run elsewhere is refused the same, whichever way it spells it.
    top = refused(
        ["launch", "-j", "img", "-q", "ns", "-c", '{"resource_args": {"namespace": "x"}}']
    )
    nested = {"resource_args": {"metadata": {"namespace": "x"}}}
    assert refused(["launch", "-j", "img", "-q", "ns", "-c", json.dumps(nested)]) == top
    assert "resource_args.metadata.namespace" in top


def test_two_different_namespaces_in_one_config_are_refused(refused):
    config = {"resource_args": {"namespace": "a", "metadata": {"namespace": "b"}}}
    refused(
        ["queue", "create", "two", "-r", "kubernetes", "-c", json.dumps(config)],
        "resource_args.namespace: 'a' is not metadata.namespace 'b'; expected one namespace",
    )


def test_a_sidecar_with_its_own_image_keeps_its_command_and_gets_the_env(world, cli):
    sidecar = {"name": "logs", "image": "fluent/fluent-bit:3", "command": ["fluent-bit"]}
    pod = {"containers": [{"name": "main"}, sidecar, {"name": "helper", "image": "${image_uri}"}]}
    _queue(cli, "side", "kubernetes", {"spec": {"template": {"spec": pod}}})
    main, logs, helper = _dry_run(cli, "side")["submission"]["manifest"]["spec"]["template"][
        "spec"
    ]["containers"]
    for container in (main, helper):  # the first, and one whose image is ${image_uri}
        assert container["image"] == IMAGE
        assert container["command"] == ["python", "train.py"]
        assert container["args"] == ["--epochs", "3"]
    assert (logs["image"], logs["command"]) == ("fluent/fluent-bit:3", ["fluent-bit"])
    assert "args" not in logs
    for container in (main, logs, helper):  # every container gets the run's env and config
        assert "LAUNCHBAY_RUN_ID" in [entry["name"] for entry in container["env"]]
        assert {"name": "launchbay-config", "mountPath": "/launchbay", "readOnly": True} in (
            container["volumeMounts"]
        )


@pytest.mark.parametrize(
    ("manifest", "fragment"),
    [
        ({"spec": {"containers": [{"name": "x"}]}}, "resource_args.spec: "),
        (
            {
                "apiVersion": "batch.volcano.sh/v1alpha1",
                "kind": "Job",
                "spec": {"minAvailable": 1},
                "tasks": [{"template": {"spec": {"containers": [{"name": "x"}]}}}],
            },
            "resource_args.tasks[0].template.spec.containers: is outside the pod templates",
        ),
    ],
    ids=["job-containers-under-spec", "volcano-tasks-beside-spec"],
)
def test_containers_where_the_job_would_not_reach_them_are_refused(refused, manifest, fragment):
    config = json.dumps({"resource_args": manifest})
    refused(["queue", "create", "lost", "-r", "kubernetes", "-c", config], fragment, "containers")


def test_a_launchs_builder_may_set_the_base_image_only(world, cli, refused):
    assert cli("queue", "create", "box", "-r", "docker").code == 0
    network = {"resource_args": {"builder": {"network": "host"}}}
    refused(
        ["launch", "-j", "img", "-q", "box", "-c", json.dumps(network)],
        "resource_args.builder.network: can be set only in the queue's own config",
    )
    assert cli("queue", "create", "local", "-r", "local-process").code == 0
    base = {"resource_args": {"builder": {"accelerator": {"base_image": "cuda:12"}}}}
    refused(
        ["launch", "-j", "code", "-q", "local", "-c", json.dumps(base)],
        "resource_args.builder: local-process queues build no images",
    )


def test_a_queue_with_two_base_images_is_refused(refused):
    config = {"builder": {"base_image": "a:1", "accelerator": {"base_image": "b:1"}}}
    refused(
        ["queue", "create", "two", "-r", "docker", "-c", json.dumps(config)],
        "builder: ",
        "names 2 base images (a:1, b:1)",
    )
    both = {"builder": {"base_image": "a:1"}, "resource_args": {"builder": {"cuda": {}}}}
    refused(
        ["queue", "create", "both", "-r", "docker", "-c", json.dumps(both)],
        "resource_args.builder: the config has builder: too",
    )


def test_a_vertex_timeout_given_twice_differently_is_refused(refused):
    pool = {"machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": 1}
    args = {
        "spec": {
            "worker_pool_specs": [pool],
            "staging_bucket": "my-bucket",
            "scheduling": {"timeout": 60},
        },
        "run": {"timeout": 120},
    }
    config = {"resource_args": args, "target": {"project": "p", "location": "us-central1"}}
    refused(
        ["queue", "create", "v", "-r", "vertex", "-c", json.dumps(config)],
        "resource_args.run.timeout: '120s' differs from spec.scheduling.timeout '60s'",
    )


def test_w_and_b_gpu_spellings_meet_the_queues_gpu_ceiling(world, cli, refused):
    _queue(cli, "two-gpus", "docker", {"gpus": "device=0,1"})
    spec = _dry_run(cli, "two-gpus", {"resource_args": {"gpus": '"device=1"'}})
    assert spec["resource_args"]["gpus"] == ["1"]
    requests = spec["submission"]["create_container"]["host_config"]["device_requests"]
    assert requests == [{"device_ids": ["1"], "capabilities": [["gpu"]]}]
    for asked in ("device=2", "all"):
        refused(
            [
                "launch",
                "-j",
                "img",
                "-q",
                "two-gpus",
                "-c",
                json.dumps({"resource_args": {"gpus": asked}}),
            ],
            "resource_args.gpus",
            "a launch may lower the queue's limits, not raise them",
        )

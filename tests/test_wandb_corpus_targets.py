"""Real W&B inputs for docker, kubernetes, vertex and sagemaker queues (tests/wandb_corpus/TARGET/,
each naming the W&B docs page or wandb test it comes from), each accepted and rendered as W&B
renders it, or refused with the reason the README gives.

A `queue-*` file is a W&B queue config (the resource args, as W&B's queue holds them), created
as a launchbay queue's `resource_args`; a `launch-*` file is a W&B launch config (`-c`). The
expected values are W&B's, read from its runners (wandb/sdk/launch/runner/): local_container.py
(`docker run` flags, which the docker CLI sends the engine as a HostConfig), kubernetes_runner.py
(_inject_defaults, add_wandb_env, inject_entrypoint_and_args), vertex_runner.py
(launch_vertex_job: what aiplatform's CustomJob.submit puts in the CustomJob) and
sagemaker_runner.py (build_sagemaker_args); where launchbay differs on purpose, the test says so
and the README lists it under "Coming from W&B Launch"."""

import json
from pathlib import Path

import pytest
import yaml
from kit import refusal_checker, write_code_job

from store import Store

CORPUS = Path(__file__).parent / "wandb_corpus"
TARGETS = ("docker", "kubernetes", "vertex", "sagemaker")
IMAGE = "registry.example.com/train:1"
# What a launchbay queue needs besides the W&B input: where the cloud is (no call is made).
TARGET_BLOCKS = {
    "vertex": {"target": {"project": "my-project", "location": "us-central1"}},
    "sagemaker": {"target": {"region": "us-east-1"}},
}
# Inputs refused, each with (the field named, the reason); the README's "Coming from W&B Launch"
# says why each is refused.
REFUSED = {
    "docker/queue-wandb-test-command-flag.yaml": (
        "resource_args.command: unknown key",  # not a `docker run` flag: docker refuses it too
        "expected one of gpus",
    ),
    "docker/launch-wandb-test-accelerator-not-a-string.yaml": (
        "resource_args.builder.accelerator.base_image",
        "valid string",  # W&B: "Expected builder.accelerator.base_image to be a string"
    ),
    "kubernetes/queue-wandb-test-volcano-tasks.yaml": (
        "resource_args.tasks[0].template.spec.containers",  # Volcano's tasks live under spec
        "outside the pod templates",
    ),
    "vertex/queue-docs-default.yaml": (
        "resource_args.spec.staging_bucket",  # the page's [STAGING-BUCKET] placeholder (a list)
        "valid string",
    ),
    "vertex/queue-wandb-test-missing-staging-bucket.yaml": (
        "resource_args.spec.staging_bucket",  # W&B: "Vertex requires a staging bucket"
        "Field required",
    ),
    "vertex/queue-wandb-test-missing-worker-spec.yaml": (
        "resource_args.spec",  # worker_pool_specs outside spec; W&B: "requires at least one"
        "Field required",
    ),
    "sagemaker/queue-docs-default.yaml": (
        "resource_args.RoleArn: '[REQUIRED]'",  # the page's placeholder
        "expected an IAM role ARN",
    ),
    "sagemaker/queue-docs-advanced.yaml": (
        "resource_args.RoleArn: 'arn:aws:iam:region:account-id:resource-type/resource-id'",
        "expected an IAM role ARN",
    ),
    "sagemaker/queue-wandb-system-test.yaml": (
        "resource_args.ResourceConfig.blah: unknown field",  # SageMaker's API refuses it too
        "expected one of InstanceType",
    ),
}
ACCEPTED = (
    "docker/queue-docs-docker-run-flags.yaml",
    "docker/queue-docs-tensorflow-gpu.yaml",
    "docker/queue-docs-accelerator-base-image.yaml",
    "docker/launch-wandb-test-cuda-base-image.yaml",
    "kubernetes/queue-docs-job-spec.yaml",
    "kubernetes/queue-docs-kubeflow-pytorchjob.yaml",
    "kubernetes/queue-wandb-test-two-containers.yaml",
    "vertex/queue-docs-default-bare-bucket.yaml",
    "vertex/queue-wandb-system-test-t4.yaml",
    "vertex/queue-wandb-test-two-pools.yaml",
    "vertex/queue-runner-run-keys.yaml",
    "sagemaker/queue-docs-default-named-image.yaml",
)


def corpus_files() -> list[str]:
    return sorted(
        str(path.relative_to(CORPUS)) for target in TARGETS for path in (CORPUS / target).glob("*")
    )


def load(name: str):
    return yaml.safe_load((CORPUS / name).read_text())


@pytest.fixture
def world(db_path, tmp_path):
    """An image job `img` (no entry point: the image's own) and a code job `code`."""
    from runners.catalog.jobs import create_job

    store = Store.open(db_path)
    try:
        create_job(store, "image", "img", IMAGE)
        folder = write_code_job(tmp_path / "code", "print('hi')\n")
        create_job(store, "code", "code", str(folder), entrypoint="python main.py")
    finally:
        store.close()


def _queue(cli, name: str) -> str:
    """A queue made of the corpus' W&B queue config `name`; returns the queue's name."""
    resource = name.split("/")[0]
    queue = Path(name).stem
    config = {"resource_args": load(name), **TARGET_BLOCKS.get(resource, {})}
    result = cli("queue", "create", queue, "-r", resource, "-c", json.dumps(config))
    assert result.code == 0, result.err
    return queue


def _dry_run(cli, queue: str, *extra: str, job: str = "img") -> dict:
    result = cli("launch", "-j", job, "-q", queue, "-a", "--epochs 3", "--dry-run", *extra)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_every_corpus_input_names_its_source_and_has_an_expected_outcome():
    files = corpus_files()
    assert len(files) >= 15
    assert sorted([*REFUSED, *ACCEPTED]) == files
    for name in files:
        first = (CORPUS / name).read_text().splitlines()[0]
        assert first.startswith("# source: "), name
        assert "https://docs.wandb.ai/" in first or "wandb/wandb " in first, name


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_refused_input_is_refused_naming_the_field(world, cli, db_path, name):
    refused = refusal_checker(cli, db_path)
    resource = name.split("/")[0]
    if Path(name).name.startswith("launch-"):
        cli("queue", "create", "plain", "-r", resource)
        args = ["launch", "-j", "code", "-q", "plain", "-c", json.dumps(load(name))]
    else:
        config = {"resource_args": load(name), **TARGET_BLOCKS.get(resource, {})}
        args = ["queue", "create", "q", "-r", resource, "-c", json.dumps(config)]
    refused(args, *REFUSED[name])


# -- docker: W&B's `docker run` flags, as the engine receives them --------------------------


def test_docs_docker_queue_renders_the_flags_as_the_docker_cli_does(world, cli, monkeypatch):
    monkeypatch.setenv("MY_EXISTING_ENV_VAR", "from-the-agent")  # a dry run stands for the agent
    name = "docker/queue-docs-docker-run-flags.yaml"
    container = _dry_run(cli, _queue(cli, name))["submission"]["create_container"]
    host = container["host_config"]
    # --env MY_ENV_VAR=value --env MY_EXISTING_ENV_VAR (docker passes the caller's value)
    assert container["environment"]["MY_ENV_VAR"] == "value"
    assert container["environment"]["MY_EXISTING_ENV_VAR"] == "from-the-agent"
    assert host["binds"] == ["/mnt/datasets:/mnt/datasets"]  # --volume
    # --gpus all: one device request for every GPU, as the docker CLI sends it
    assert host["device_requests"] == [{"count": -1, "capabilities": [["gpu"]]}]
    # W&B: `docker run … IMAGE --epochs 3` (no --entrypoint for an image's own)
    assert container["image"] == IMAGE
    assert container["command"] == ["--epochs", "3"]
    assert "entrypoint" not in container
    # Kept differences: no network unless the queue grants one; an init as PID 1; `rm: true` is
    # what launchbay does anyway (it removes the container itself).
    assert host["network_mode"] == "none"
    assert host["init"] is True
    assert "auto_remove" not in host


@pytest.mark.parametrize(
    ("name", "gpus"),
    [
        ("docker/queue-docs-tensorflow-gpu.yaml", True),
        ("docker/queue-docs-accelerator-base-image.yaml", False),
    ],
)
def test_docs_accelerator_base_image_is_the_base_of_the_queues_builds(world, cli, name, gpus):
    queue = _queue(cli, name)
    spec = _dry_run(cli, queue, job="code")
    # W&B: the accelerator Dockerfile starts FROM builder.accelerator.base_image
    assert spec["build"]["base_image"] == "tensorflow/tensorflow:latest-gpu"
    host = spec["submission"]["create_container"]["host_config"]
    assert ("device_requests" in host) is gpus
    described = json.loads(cli("queue", "describe", queue, "--json").out)
    assert described["config"]["builder"] == {"base_image": "tensorflow/tensorflow:latest-gpu"}
    assert "builder" not in described["config"]["resource_args"]


def test_a_launch_configs_cuda_base_image_is_the_base_of_its_build(world, cli):
    assert cli("queue", "create", "plain", "-r", "docker").code == 0
    name = "docker/launch-wandb-test-cuda-base-image.yaml"
    spec = _dry_run(cli, "plain", "-c", json.dumps(load(name)), job="code")
    assert spec["build"]["base_image"] == "ubuntu:22.04"  # W&B: accelerator_base_image
    assert "builder" not in spec["resource_args"]


# -- kubernetes: W&B's manifests, as the cluster would receive them -------------------------


def _env_names(container: dict) -> list[str]:
    return [entry["name"] for entry in container["env"]]


def test_docs_job_spec_with_a_top_level_namespace(world, cli):
    name = "kubernetes/queue-docs-job-spec.yaml"
    manifest = _dry_run(cli, _queue(cli, name))["submission"]["manifest"]
    # W&B (_inject_defaults): a batch/v1 Job in the config's top-level namespace, the queue's
    # labels kept, backoffLimit 0, restartPolicy Never, the image and args on the container,
    # its own env first and the run's after, the restricted security context.
    assert (manifest["apiVersion"], manifest["kind"]) == ("batch/v1", "Job")
    assert manifest["metadata"]["namespace"] == "wandb"
    assert "namespace" not in manifest
    assert manifest["metadata"]["labels"]["queue"] == "k8s-test"
    assert manifest["spec"]["backoffLimit"] == 0
    pod = manifest["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["image"] == IMAGE
    assert container["args"] == ["--epochs", "3"]
    assert "command" not in container  # the image's own entry point, as W&B leaves it
    assert container["env"][0] == {"name": "MY_ENV_VAR", "value": "some-value"}
    assert "LAUNCHBAY_RUN_ID" in _env_names(container)
    assert container["resources"] == {"requests": {"cpu": "1000m", "memory": "1Gi"}}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    # Kept differences: the queue's ttlSecondsAfterFinished (3600; W&B: 60), the container
    # named main (W&B: launch0), the Job named launchbay-<run id>.
    assert manifest["spec"]["ttlSecondsAfterFinished"] == 3600
    assert container["name"] == "main"


def test_docs_kubeflow_pytorchjob_runs_the_job_in_every_replica(world, cli):
    name = "kubernetes/queue-docs-kubeflow-pytorchjob.yaml"
    manifest = _dry_run(cli, _queue(cli, name))["submission"]["manifest"]
    assert (manifest["apiVersion"], manifest["kind"]) == ("kubeflow.org/v1", "PyTorchJob")
    replicas = manifest["spec"]["pytorchReplicaSpecs"]
    # W&B: ${image_uri} filled in, the env in every container (add_wandb_env), the launch's
    # args in every container (add_entrypoint_args_overrides), the rest as the queue wrote it.
    for role, count in (("Master", 1), ("Worker", 2)):
        assert replicas[role]["replicas"] == count
        assert replicas[role]["restartPolicy"] == "Never"
        (container,) = replicas[role]["template"]["spec"]["containers"]
        assert container["image"] == IMAGE
        assert container["imagePullPolicy"] == "Always"
        assert container["args"] == ["--epochs", "3"]
        assert "LAUNCHBAY_RUN_ID" in _env_names(container)
    assert manifest["spec"]["ttlSecondsAfterFinished"] == 600
    # Kept difference: launchbay names the object (W&B keeps '${run_id}-pytorch-job').
    assert manifest["metadata"]["name"] == "launchbay-dryrun00"


def test_wandb_two_container_job_gives_both_containers_the_job(world, cli):
    name = "kubernetes/queue-wandb-test-two-containers.yaml"
    manifest = _dry_run(cli, _queue(cli, name))["submission"]["manifest"]
    pod = manifest["spec"]["template"]["spec"]
    master, worker = pod["containers"]
    # W&B (test_add_env, test_add_entrypoint_args_overrides): both containers get the args and
    # the env, the first keeping its own MY_ENV_VAR first; both run ${image_uri}.
    for container in (master, worker):
        assert container["image"] == IMAGE
        assert container["args"] == ["--epochs", "3"]
        assert "LAUNCHBAY_RUN_ID" in _env_names(container)
    assert master["env"][0] == {"name": "MY_ENV_VAR", "value": "MY_VALUE"}
    assert (master["name"], worker["name"], worker["workingDir"]) == ("master", "worker", "/home")
    assert pod["restartPolicy"] == "OnFailure"  # the queue's own, as W&B keeps it
    assert manifest["spec"]["template"]["metadata"]["labels"]["app"] == "wandb"


# -- vertex: the CustomJob aiplatform's CustomJob.submit sends --------------------------------


def _custom_job(cli, name: str) -> dict:
    return _dry_run(cli, _queue(cli, name))["submission"]["custom_job"]


def test_docs_default_vertex_queue_with_a_bare_bucket_name(world, cli):
    job = _custom_job(cli, "vertex/queue-docs-default-bare-bucket.yaml")
    (pool,) = job["job_spec"]["worker_pool_specs"]
    assert pool["machine_spec"] == {
        "machine_type": "n1-standard-4",
        "accelerator_type": "ACCELERATOR_TYPE_UNSPECIFIED",
        "accelerator_count": 0,
    }
    assert pool["replica_count"] == 1
    assert pool["container_spec"]["image_uri"] == IMAGE
    # run.restart_job_on_worker_restart: CustomJob.submit puts it in spec.scheduling
    assert job["job_spec"]["scheduling"] == {"restart_job_on_worker_restart": False}
    # The bare bucket is gs://my-staging-bucket (aiplatform.init takes it so); the output goes
    # under it, in launchbay's folder for the run (aiplatform: aiplatform-custom-job-<time>).
    assert job["job_spec"]["base_output_directory"] == {
        "output_uri_prefix": "gs://my-staging-bucket/launchbay/dryrun00"
    }


def test_wandb_system_test_t4_queue(world, cli):
    job = _custom_job(cli, "vertex/queue-wandb-system-test-t4.yaml")
    (pool,) = job["job_spec"]["worker_pool_specs"]
    assert pool["machine_spec"]["accelerator_type"] == "NVIDIA_TESLA_T4"  # as W&B's test asserts
    assert pool["machine_spec"]["accelerator_count"] == 1
    assert pool["container_spec"]["image_uri"] == IMAGE
    assert job["job_spec"]["base_output_directory"]["output_uri_prefix"].startswith(
        "gs://test_bucket/"
    )


def test_wandb_two_pools_both_run_the_job(world, cli):
    job = _custom_job(cli, "vertex/queue-wandb-test-two-pools.yaml")
    first, second = job["job_spec"]["worker_pool_specs"]
    # W&B (test_vertex_runner_works): the first pool's image is the job's; the second's
    # ${image_uri} is filled in; both get the job's argv and env.
    assert (first["replica_count"], second["replica_count"]) == (2, 1)
    assert first["machine_spec"]["machine_type"] == "n1-standard-4"
    assert second["machine_spec"]["machine_type"] == "n1-standard-8"
    for pool in (first, second):
        assert pool["container_spec"]["image_uri"] == IMAGE
        # W&B puts the whole argv in `command`; launchbay: the entry point in command, the
        # args in args (the image's ENTRYPOINT runs them, as on every other target).
        assert pool["container_spec"]["args"] == ["--epochs", "3"]
        assert "LAUNCHBAY_RUN_ID" in [e["name"] for e in pool["container_spec"]["env"]]


def test_every_run_key_reaches_the_custom_job_as_aiplatform_sends_it(world, db_path):
    from google.cloud.aiplatform_v1 import types

    from runners.catalog.queues import check_queue_config
    from runners.launch.request import LaunchRequest, prepare_launch, preview
    from runners.targets.vertex.request import proto_values

    name = "vertex/queue-runner-run-keys.yaml"
    store = Store.open(db_path)  # not through the CLI: it hides kms_key_name's value (a KEY)
    try:
        config = {"resource_args": load(name), **TARGET_BLOCKS["vertex"]}
        store.queues.create("keys", "vertex", check_queue_config("vertex", config))
        prepared = prepare_launch(store, LaunchRequest(job="img", queue="keys"))
        job = preview(store, prepared)["submission"]["custom_job"]
    finally:
        store.close()
    spec = job["job_spec"]
    assert spec["scheduling"] == {"timeout": "7200s", "restart_job_on_worker_restart": True}
    assert spec["service_account"] == "trainer@my-project.iam.gserviceaccount.com"
    assert spec["network"] == "projects/12345/global/networks/ml"
    assert spec["enable_web_access"] is False
    assert spec["tensorboard"] == "projects/my-project/locations/us-central1/tensorboards/123"
    key = "projects/my-project/locations/us-central1/keyRings/ml/cryptoKeys/jobs"
    assert job["encryption_spec"] == {"kms_key_name": key}
    # experiment, experiment_run and sync are the SDK's client-side steps: not in the job.
    assert not {"experiment", "experiment_run", "sync"} & set(spec)
    assert job["labels"]["team"] == "vision"
    proto = types.CustomJob(**proto_values(job))  # the API's own types take it as it is
    assert proto.encryption_spec.kms_key_name == key
    assert proto.job_spec.scheduling.timeout.total_seconds() == 7200
    assert proto.job_spec.tensorboard.endswith("/tensorboards/123")


# -- sagemaker: the CreateTrainingJob request ----------------------------------------------


def test_a_queues_training_job_name_and_image_are_honoured(world, cli):
    name = "sagemaker/queue-docs-default-named-image.yaml"
    request = _dry_run(cli, _queue(cli, name))["submission"]["CreateTrainingJob"]
    # W&B (build_sagemaker_args): TrainingJobName as given (macros filled in); the queue's
    # TrainingImage runs, TrainingInputMode File, the args as ContainerArguments.
    assert request["TrainingJobName"] == "train-dryrun00"
    assert request["AlgorithmSpecification"] == {
        "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/testimage:1",
        "TrainingInputMode": "File",
        "ContainerArguments": ["--epochs", "3"],
    }
    assert request["RoleArn"] == "arn:aws:iam::123456789012:role/SageMakerTraining"
    assert request["ResourceConfig"] == {
        "InstanceType": "ml.m4.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 2,
    }
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://my-bucket/runs"}


def test_a_launch_may_name_its_training_job_as_the_api_allows(world, cli):
    name = "sagemaker/queue-docs-default-named-image.yaml"
    queue = _queue(cli, name)
    spec = _dry_run(cli, queue, "-c", '{"resource_args": {"TrainingJobName": "mine"}}')
    assert spec["submission"]["CreateTrainingJob"]["TrainingJobName"] == "mine"
    bad = cli(
        "launch", "-j", "img", "-q", queue, "-c", '{"resource_args": {"TrainingJobName": "a b"}}'
    )
    assert bad.code == 2
    assert "resource_args.TrainingJobName: 'a b'" in bad.err

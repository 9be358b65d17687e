"""What a kubernetes container runs is what the job says, one rule for every public template:
the job's entry point and args replace the template container's command and args, and a job
without an entry point runs its image's own (nothing of the template's glued on). The dry run
shows exactly that argv, in every container that runs the job."""

import json

import pytest
import yaml
from test_kube_args import _add_queue

from runners.catalog.jobs import create_job
from store import Store

# The Kubernetes docs' Job example (kubernetes.io/docs/concepts/workloads/controllers/job/).
PI_JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      containers:
      - name: pi
        image: perl:5.34.0
        command: ["perl",  "-Mbignum=bpi", "-wle", "print bpi(2000)"]
      restartPolicy: Never
  backoffLimit: 4
"""

# Kueue's sample job (kueue/site/static/examples/jobs/sample-job.yaml).
KUEUE_JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  generateName: sample-job-
  namespace: default
  labels:
    kueue.x-k8s.io/queue-name: user-queue
spec:
  parallelism: 3
  completions: 3
  suspend: true
  template:
    spec:
      containers:
      - name: dummy-job
        image: gcr.io/k8s-staging-perf-tests/sleep:v0.1.0
        args: ["30s"]
        resources:
          requests:
            cpu: 1
            memory: "200Mi"
      restartPolicy: Never
"""

# Kubeflow's training-operator example (examples/pytorch/simple.yaml).
PYTORCH_JOB = """
apiVersion: "kubeflow.org/v1"
kind: PyTorchJob
metadata:
  name: pytorch-simple
  namespace: kubeflow
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      restartPolicy: OnFailure
      template:
        spec:
          containers:
            - name: pytorch
              image: docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727
              imagePullPolicy: Always
              command:
                - "python3"
                - "/opt/pytorch-mnist/mnist.py"
                - "--epochs=1"
    Worker:
      replicas: 1
      restartPolicy: OnFailure
      template:
        spec:
          containers:
            - name: pytorch
              image: docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727
              imagePullPolicy: Always
              command:
                - "python3"
                - "/opt/pytorch-mnist/mnist.py"
                - "--epochs=1"
"""

# JobSet's simple example (jobset/examples/simple/simple.yaml).
JOBSET = """
apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata:
  name: simple
spec:
  replicatedJobs:
  - name: leader
    replicas: 1
    template:
      spec:
        parallelism: 1
        completions: 1
        backoffLimit: 0
        template:
          spec:
            containers:
            - name: leader
              image: bash:latest
              command: ["bash", "-xc", "sleep 1000"]
  - name: workers
    replicas: 1
    template:
      spec:
        parallelism: 2
        completions: 2
        backoffLimit: 0
        template:
          spec:
            containers:
            - name: worker
              image: bash:latest
              command: ["bash", "-xc", "sleep 1000"]
"""


def _containers_running_the_job(manifest: dict) -> list[dict]:
    spec = manifest["spec"]
    if manifest["kind"] == "PyTorchJob":
        pods = [spec["pytorchReplicaSpecs"][role]["template"] for role in ("Master", "Worker")]
    elif manifest["kind"] == "JobSet":
        pods = [job["template"]["spec"]["template"] for job in spec["replicatedJobs"]]
    else:
        pods = [spec["template"]]
    return [pod["spec"]["containers"][0] for pod in pods]


QUEUE = "public-template"
TEMPLATES = [
    pytest.param(PI_JOB, id="k8s-docs-pi"),
    pytest.param(KUEUE_JOB, id="kueue-sample"),
    pytest.param(PYTORCH_JOB, id="kubeflow-pytorchjob"),
    pytest.param(JOBSET, id="jobset-simple"),
]


@pytest.fixture
def jobs(db_path):
    store = Store.open(db_path)
    try:
        create_job(store, "image", "train", "trainer:1", entrypoint="python train.py")
        create_job(store, "image", "own", "trainer:1")  # runs its image's ENTRYPOINT and CMD
    finally:
        store.close()


@pytest.fixture(params=TEMPLATES)
def queue(db_path, jobs, request) -> None:
    """A queue whose template is one of the public examples."""
    _add_queue(db_path, QUEUE, {"resource_args": yaml.safe_load(request.param)})


def _argv_in_dry_run(cli, job: str, *args: str) -> list[tuple]:
    result = cli("launch", "-j", job, "-q", QUEUE, *args, "--dry-run")
    assert result.code == 0, result.err
    manifest = json.loads(result.out)["submission"]["manifest"]
    containers = _containers_running_the_job(manifest)
    assert all(c["image"] == "trainer:1" for c in containers)
    return [(c.get("command"), c.get("args")) for c in containers]


def test_the_jobs_entry_point_replaces_the_templates_command_and_args(queue, cli):
    for argv in _argv_in_dry_run(cli, "train"):
        assert argv == (["python", "train.py"], None)  # no template args glued on


def test_the_launchs_args_replace_the_templates_args(queue, cli):
    for argv in _argv_in_dry_run(cli, "train", "-a", "--lr 0.1"):
        assert argv == (["python", "train.py"], ["--lr", "0.1"])


def test_a_job_without_an_entry_point_runs_its_images_own(queue, cli):
    for argv in _argv_in_dry_run(cli, "own"):
        assert argv == (None, None)  # neither the template's command nor its args
    for argv in _argv_in_dry_run(cli, "own", "-a", "--help"):
        assert argv == (None, ["--help"])  # the image's ENTRYPOINT, the launch's args

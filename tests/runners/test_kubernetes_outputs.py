"""A kubernetes run's files: the queue's `target.outputs` (an S3 folder) gives each run its own
folder, `$LAUNCHBAY_OUTPUTS`, which `runs files` lists and `runs cp` copies out. The fake API
server runs the pod; S3 is moto's server (boto3 at `outputs_endpoint_url`)."""

import json

from kit import AgentThread, image_job, launch, log_of, refusal_checker, run_of
from kit.aws import BUCKET

from runners.catalog.queues import check_queue_config
from store import RunState


def outputs_queue(store, kubeconfig, **target):
    config = {"target": {"kubeconfig": str(kubeconfig), **target}}
    return store.queues.create("k8s", "kubernetes", check_queue_config("kubernetes", config))


def test_each_run_writes_to_its_own_outputs_folder_which_runs_files_lists(
    store, db_path, kubeconfig, aws, cli, tmp_path
):
    outputs_queue(
        store, kubeconfig, outputs=f"s3://{BUCKET}/kube", outputs_endpoint_url=aws.endpoint_url
    )
    image_job(store, "train", "echo outputs=$LAUNCHBAY_OUTPUTS")
    item = launch(store, "train", "k8s")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, run.message
    folder = f"s3://{BUCKET}/kube/{run.id}/"
    assert f"outputs={folder}" in log_of(store, run.id).splitlines()
    s3 = aws.client("s3")  # what the job would upload there
    s3.put_object(Bucket=BUCKET, Key=f"kube/{run.id}/ckpt/model.pt", Body=b"w" * 300)
    s3.put_object(Bucket=BUCKET, Key="kube/another-run/model.pt", Body=b"not ours")

    listed = json.loads(cli("runs", "files", run.id, "--json").out)
    assert listed["remote"] == folder
    assert listed["files"] == [
        {"path": "ckpt", "kind": "dir", "size": 300},
        {"path": "ckpt/model.pt", "kind": "file", "size": 300},
    ]
    copied = cli("runs", "cp", run.id, "ckpt/model.pt", str(tmp_path / "model.pt"))
    assert copied.code == 0, copied.err
    assert (tmp_path / "model.pt").read_bytes() == b"w" * 300


def test_the_dry_run_shows_the_outputs_folder_in_the_jobs_env(store, kubeconfig, cli):
    outputs_queue(store, kubeconfig, outputs="s3://lb-out/kube/")
    image_job(store, "train", "true")
    shown = cli("launch", "-j", "train", "-q", "k8s", "--dry-run", "--json")
    assert shown.code == 0, shown.err
    container = json.loads(shown.out)["submission"]["manifest"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    env = {entry["name"]: entry["value"] for entry in container["env"]}
    assert env["LAUNCHBAY_OUTPUTS"] == "s3://lb-out/kube/dryrun00/", env  # the dry run's run id


def test_outputs_that_are_not_an_s3_folder_are_refused_naming_the_field(
    store, db_path, kubeconfig, cli, tmp_path
):
    refused = refusal_checker(cli, db_path)
    for outputs in ("gs://bucket/runs", "s3://", "/mnt/runs"):
        config = tmp_path / "k8s.yaml"
        config.write_text(
            json.dumps({"target": {"kubeconfig": str(kubeconfig), "outputs": outputs}})
        )
        refused(
            ["queue", "create", "k8s", "-r", "kubernetes", "-c", str(config)],
            "target.outputs: expected an S3 folder, s3://bucket or s3://bucket/prefix",
        )

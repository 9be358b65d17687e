"""A SageMaker run's files: its output in S3 (`S3OutputPath/<job name>/`) listed with sizes by
`runs files`, paginated and capped, previewed, and downloaded by `runs cp` with the local
refusals; a bucket that can't be read is one line and exit 1. boto3 against moto's server."""

import json

import pytest
from kit import launch, refusal_checker, run_agent_until_empty, run_of
from kit.aws import BUCKET, sagemaker_queue
from test_sagemaker_checks import training_job

from runners.runfiles import files_of, list_run_files, preview_run_file
from runners.targets.sagemaker.request import training_job_name
from store import RunState

MODEL = bytes(range(256)) * 8  # 2 KiB, binary
METRICS = b"loss 0.12\nacc 0.97\n"


@pytest.fixture
def sagemaker_run(store, db_path, aws):
    """A finished training job whose output SageMaker put in S3, as it does: output/model.tar.gz
    and output/output.tar.gz under the job's own prefix, plus a file the job wrote there."""
    aws.hold = False  # the job ends by itself
    sagemaker_queue(store, aws)
    training_job(store)
    item = launch(store, "train", "sm")
    output = run_agent_until_empty(db_path, "sm")
    run = run_of(store, item)
    assert run.state is RunState.FINISHED, output
    prefix = f"runs/{training_job_name('train', run.id)}/"
    s3 = aws.client("s3")
    for key, body in (
        ("output/model.tar.gz", MODEL),
        ("output/output.tar.gz", b"x" * 100),
        ("metrics.txt", METRICS),
    ):
        s3.put_object(Bucket=BUCKET, Key=prefix + key, Body=body)
    s3.put_object(Bucket=BUCKET, Key="runs/other-job/output/model.tar.gz", Body=b"not ours")
    return run, prefix


def test_runs_files_lists_the_jobs_s3_output_as_a_tree(cli, sagemaker_run):
    run, prefix = sagemaker_run
    listed = json.loads(cli("runs", "files", run.id, "--json").out)
    assert listed["remote"] == f"s3://{BUCKET}/{prefix}"
    assert listed["files"] == [
        {"path": "metrics.txt", "kind": "file", "size": len(METRICS)},
        {"path": "output", "kind": "dir", "size": len(MODEL) + 100},
        {"path": "output/model.tar.gz", "kind": "file", "size": len(MODEL)},
        {"path": "output/output.tar.gz", "kind": "file", "size": 100},
    ]
    assert not listed["truncated"]
    text = cli("runs", "files", run.id).out
    assert f"s3://{BUCKET}/{prefix}" in text and "output/model.tar.gz" in text and "2.0 KiB" in text


def test_the_listing_reads_every_page_and_stops_at_the_cap(store, sagemaker_run):
    run, _ = sagemaker_run
    files = files_of(store, store.runs.get(run.id))
    files.remote.page_size = 1  # one object a page: four pages for four files
    entries, truncated = list_run_files(files)
    assert [e.path for e in entries][-1] == "output/output.tar.gz" and not truncated
    entries, truncated = list_run_files(files, limit=2)
    assert [e.path for e in entries] == ["metrics.txt", "output"] and truncated


def test_a_text_file_is_previewed_and_a_binary_one_is_said_to_be(store, aws, sagemaker_run):
    run, prefix = sagemaker_run
    aws.client("s3").put_object(Bucket=BUCKET, Key=prefix + "empty.txt", Body=b"")
    files = files_of(store, store.runs.get(run.id))
    empty = preview_run_file(files, "empty.txt", run.id)  # no byte to range over
    assert (empty.text, empty.size, empty.truncated) == ("", 0, False)
    shown = preview_run_file(files, "metrics.txt", run.id)
    assert shown.text == METRICS.decode() and shown.size == len(METRICS) and not shown.truncated
    model = preview_run_file(files, "output/model.tar.gz", run.id)
    assert model.text is None and model.size == len(MODEL)


def test_cp_downloads_a_file_and_a_folder(cli, sagemaker_run, tmp_path):
    run, _ = sagemaker_run
    dest = tmp_path / "dest"
    dest.mkdir()
    result = cli("runs", "cp", run.id, "output/model.tar.gz", str(dest))
    assert result.code == 0, result.err
    assert (dest / "model.tar.gz").read_bytes() == MODEL
    assert result.out.strip() == str(dest / "model.tar.gz")
    assert cli("runs", "cp", run.id, "output", str(tmp_path / "copy")).code == 0
    assert (tmp_path / "copy" / "output.tar.gz").read_bytes() == b"x" * 100
    assert (tmp_path / "copy" / "model.tar.gz").read_bytes() == MODEL


def test_cp_refuses_paths_out_of_the_jobs_output(cli, db_path, sagemaker_run, tmp_path):
    run, _ = sagemaker_run
    refused = refusal_checker(cli, db_path)
    dest = str(tmp_path / "dest")
    refused(["runs", "cp", run.id, "../other-job/output/model.tar.gz", dest], "PATH", "'..'")
    refused(["runs", "cp", run.id, "/output/model.tar.gz", dest], "PATH", "absolute")
    refused(["runs", "cp", run.id, "output/nothing", dest], "PATH", "no file")
    assert not (tmp_path / "dest").exists()


def test_a_key_that_would_climb_out_of_the_copy_is_not_written(cli, aws, sagemaker_run, tmp_path):
    run, prefix = sagemaker_run
    aws.client("s3").put_object(Bucket=BUCKET, Key=prefix + "output/../../../evil", Body=b"x")
    result = cli("runs", "cp", run.id, "output", str(tmp_path / "copy"))
    assert result.code == 2 and "except: output/../../../evil" in result.err
    assert (tmp_path / "copy" / "model.tar.gz").read_bytes() == MODEL
    assert not any(p.name == "evil" for p in tmp_path.rglob("*"))


def test_a_bucket_that_is_gone_is_one_line_and_exit_1(cli, aws, sagemaker_run, tmp_path):
    run, prefix = sagemaker_run
    s3 = aws.client("s3")
    for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]:
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)
    for args in (("runs", "files", run.id), ("runs", "cp", run.id, "metrics.txt", str(tmp_path))):
        result = cli(*args)
        assert result.code == 1, result
        assert result.err.strip().splitlines() == [
            f"launchbay: error: could not list s3://{BUCKET}/{prefix}: NoSuchBucket:"
            " The specified bucket does not exist"
        ]


def test_no_credentials_is_one_line_and_exit_1(cli, monkeypatch, sagemaker_run, tmp_path):
    run, prefix = sagemaker_run
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # nor an instance's role
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = cli("runs", "files", run.id)
    assert result.code == 1, result
    assert result.err.strip().splitlines() == [
        f"launchbay: error: could not list s3://{BUCKET}/{prefix}: Unable to locate credentials"
    ]

"""A Vertex run's files: its output in Cloud Storage (the staging bucket's `launchbay/RUN`, or
the queue's base_output_dir) listed with sizes by `runs files`, page after page, previewed, and
downloaded by `runs cp` with the local refusals; a bucket that is gone is one line and exit 1.
google-cloud-storage against gcp-storage-emulator on loopback; the job runs on the fake
Vertex AI."""

import json

import pytest
from kit import launch, refusal_checker, run_agent_until_empty, run_of
from kit.gcp import STAGING_BUCKET, VERTEX_ARGS, vertex_queue
from test_vertex_checks import training_job

from runners.runfiles import files_of, list_run_files, preview_run_file
from store import RunState

MODEL = bytes(range(256)) * 4  # 1 KiB, binary
NOTES = b"epoch 3: best\n"


def vertex_run(store, db_path, vertex, gcs, resource_args=None):
    target = {
        "project": "launchbay-test",
        "location": "us-central1",
        "api_endpoint": vertex.api_endpoint,
        "logging_endpoint": vertex.api_endpoint,
        "storage_endpoint": gcs.endpoint,
        "credentials": "anonymous",
        "poll_seconds": 0.1,
    }
    vertex.hold = False  # the job ends by itself
    vertex_queue(store, vertex, target=target, resource_args=resource_args)
    training_job(store)
    item = launch(store, "train", "vx")
    output = run_agent_until_empty(db_path, "vx")
    run = run_of(store, item)
    assert run.state is RunState.FINISHED, output
    return run


@pytest.fixture
def finished(store, db_path, vertex, gcs):
    """A finished job, and what it wrote where Vertex tells it to (AIP_MODEL_DIR is
    base_output_directory/model/)."""
    run = vertex_run(store, db_path, vertex, gcs)
    prefix = f"launchbay/{run.id}/"
    gcs.put(STAGING_BUCKET, prefix + "model/model.pt", MODEL)
    gcs.put(STAGING_BUCKET, prefix + "notes.txt", NOTES)
    gcs.put(STAGING_BUCKET, "launchbay/another-run/notes.txt", b"not ours")
    return run, prefix


def test_runs_files_lists_the_jobs_gcs_output(cli, finished):
    run, prefix = finished
    listed = json.loads(cli("runs", "files", run.id, "--json").out)
    assert listed["remote"] == f"gs://{STAGING_BUCKET}/{prefix}"
    assert listed["files"] == [
        {"path": "model", "kind": "dir", "size": len(MODEL)},
        {"path": "model/model.pt", "kind": "file", "size": len(MODEL)},
        {"path": "notes.txt", "kind": "file", "size": len(NOTES)},
    ]


def test_pages_previews_and_downloads(cli, store, gcs, finished, tmp_path):
    run, _ = finished
    files = files_of(store, store.runs.get(run.id))
    files.remote.page_size = 1  # one object a page
    assert [e.path for e in list_run_files(files)[0]] == ["model", "model/model.pt", "notes.txt"]
    assert preview_run_file(files, "notes.txt", run.id).text == NOTES.decode()
    assert preview_run_file(files, "model/model.pt", run.id).text is None
    gcs.put(STAGING_BUCKET, f"launchbay/{run.id}/empty.txt", b"")
    assert preview_run_file(files, "empty.txt", run.id).text == ""

    result = cli("runs", "cp", run.id, "model", str(tmp_path / "copy"))
    assert result.code == 0, result.err
    assert (tmp_path / "copy" / "model.pt").read_bytes() == MODEL
    assert cli("runs", "cp", run.id, "notes.txt", str(tmp_path)).code == 0
    assert (tmp_path / "notes.txt").read_bytes() == NOTES


def test_cp_refuses_paths_out_of_the_runs_output(cli, db_path, finished, tmp_path):
    run, _ = finished
    refused = refusal_checker(cli, db_path)
    dest = str(tmp_path / "dest")
    refused(["runs", "cp", run.id, "../another-run/notes.txt", dest], "PATH", "'..'")
    refused(["runs", "cp", run.id, "/notes.txt", dest], "PATH", "absolute")
    refused(["runs", "cp", run.id, "nothing.txt", dest], "PATH", "no file")


def test_the_queues_base_output_dir_is_listed_instead(cli, store, db_path, vertex, gcs):
    spec = {**VERTEX_ARGS["spec"], "base_output_dir": f"gs://{STAGING_BUCKET}/shared/out"}
    run = vertex_run(store, db_path, vertex, gcs, {**VERTEX_ARGS, "spec": spec})
    gcs.put(STAGING_BUCKET, "shared/out/model/weights.bin", b"w" * 10)
    listed = json.loads(cli("runs", "files", run.id, "--json").out)
    assert listed["remote"] == f"gs://{STAGING_BUCKET}/shared/out/"
    assert [f["path"] for f in listed["files"]] == ["model", "model/weights.bin"]


def test_a_bucket_that_is_gone_is_one_line_and_exit_1(cli, gcs, finished):
    run, prefix = finished
    bucket = gcs.client.bucket(STAGING_BUCKET)
    for blob in list(bucket.list_blobs()):
        blob.delete()
    bucket.delete()
    result = cli("runs", "files", run.id)
    assert result.code == 1, result
    [line] = result.err.strip().splitlines()
    assert line.startswith(f"launchbay: error: could not list gs://{STAGING_BUCKET}/{prefix}:")
    assert "NotFound" in line

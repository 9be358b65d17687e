"""What a run wrote: `runs files` lists its folder with sizes, `runs cp` copies a file or a
folder out of it and refuses any path that leads out of it; text previews and binary files."""

import json
import os

import pytest
from kit import (
    claimed_run,
    containers_removed_after,  # noqa: F401  (a fixture)
    launch,
    make_code_job,
    make_queue,
    refusal_checker,
    run_agent,
)

from runners.runfiles import list_files, preview

WRITES_OUTPUTS = """
import os
os.makedirs("outputs/ckpt", exist_ok=True)
with open("outputs/metrics.txt", "w") as f:
    f.write("loss 0.1\\n")
with open("outputs/ckpt/model.bin", "wb") as f:
    f.write(bytes(range(256)) * 40)
print("done")
"""


@pytest.fixture
def finished_run(store, tmp_path, db_path) -> str:
    make_code_job(store, tmp_path, "writer", WRITES_OUTPUTS)
    make_queue(store)
    item = launch(store, "writer")
    run_agent(db_path)
    run = store.runs.find_for_item(item)
    assert run.state.value == "finished", run
    return run.id


def test_a_local_run_lists_its_log_and_what_its_job_wrote(cli, finished_run):
    listed = json.loads(cli("runs", "files", finished_run, "--json").out)
    files = {f["path"]: f for f in listed["files"]}
    assert files["work/outputs/ckpt/model.bin"] == {
        "path": "work/outputs/ckpt/model.bin",
        "kind": "file",
        "size": 10240,
    }
    assert files["work/outputs"]["kind"] == "dir"
    assert files["work/outputs"]["size"] == 10240 + len("loss 0.1\n")
    assert files["output.log"]["size"] > 0
    assert listed["note"] is None

    text = cli("runs", "files", finished_run).out
    assert "work/outputs/ckpt/model.bin" in text and "10.0 KiB" in text


def test_cp_copies_a_file_and_a_folder_out(cli, finished_run, tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    result = cli("runs", "cp", finished_run, "work/outputs/metrics.txt", str(dest))
    assert result.code == 0, result.err
    assert (dest / "metrics.txt").read_text() == "loss 0.1\n"
    assert cli("runs", "cp", finished_run, "work/outputs", str(tmp_path / "copy")).code == 0
    assert (tmp_path / "copy" / "ckpt" / "model.bin").stat().st_size == 10240


def test_cp_refuses_paths_that_lead_out_of_the_run(cli, store, db_path, tmp_path):
    run_id = claimed_run(store, tmp_path, "r1")
    folder = store.run_dir(run_id)
    (folder / "work").mkdir(parents=True)
    (tmp_path / "secret").write_text("no")
    os.symlink(tmp_path / "secret", folder / "work" / "out-link")
    os.symlink("../output.log", folder / "work" / "in-link")
    (folder / "output.log").write_text("log\n")
    refused = refusal_checker(cli, db_path)
    dest = str(tmp_path / "dest")
    refused(["runs", "cp", run_id, "../../lb.db", dest], "PATH", "'..'")
    refused(["runs", "cp", run_id, "work/../../x", dest], "PATH", "'..'")
    refused(["runs", "cp", run_id, str(tmp_path / "secret"), dest], "PATH", "absolute")
    refused(["runs", "cp", run_id, "work/out-link", dest], "PATH", "through a link")
    refused(["runs", "cp", run_id, "work/nothing", dest], "PATH", "no file")
    refused(["runs", "cp", "nosuchrun", "x", dest], "run", "nosuchrun")
    # A link that stays inside is followed.
    assert cli("runs", "cp", run_id, "work/in-link", dest).code == 0
    assert (tmp_path / "dest").read_text() == "log\n"


def test_links_are_listed_not_followed(tmp_path):
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "x").write_bytes(b"x" * 100)
    os.symlink(tmp_path / "big", tmp_path / "loop")
    entries, truncated = list_files(tmp_path)
    assert [(e.path, e.kind, e.size) for e in entries] == [
        ("big", "dir", 100),
        ("big/x", "file", 100),
        ("loop", "link", 0),
    ]
    assert not truncated
    assert len(list_files(tmp_path, limit=2)[0]) == 2 and list_files(tmp_path, limit=2)[1]


def test_preview_shows_text_and_detects_binary(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("é" * 40_000)  # 80,000 bytes: cut inside a two-byte character
    shown = preview(text, max_bytes=65_535)
    assert shown.text == "é" * 32_767 and shown.truncated and shown.size == 80_000
    binary = tmp_path / "b.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    assert preview(binary).text is None
    latin = tmp_path / "l.txt"
    latin.write_bytes(b"caf\xe9 cr\xe8me")
    assert preview(latin).text is None


def test_a_docker_run_lists_its_own_mount_and_names_shared_ones(cli, store, tmp_path):
    from runners.catalog.queues import check_queue_config

    job = make_code_job(store, tmp_path, "train", "pass")
    queue = store.queues.create(
        "dock", "docker", check_queue_config("docker", {"resource_args": {}})
    )
    store.items.enqueue(queue.id, job.id, job.ref, {})
    item = store.items.lease_next(queue, "a1")
    own = tmp_path / "scratch" / "d1"  # as a queue's /scratch/${run_id}:/outputs renders
    (own / "ckpt").mkdir(parents=True)
    (own / "ckpt" / "model.bin").write_bytes(b"\0" * 2048)
    volumes = [f"{own}:/outputs", "/srv/shared:/shared", f"{tmp_path}/data-d1:/data:ro"]
    spec = {"resource_args": {"volumes": volumes}}
    assert store.items.claim_with_run(item, "a1", "d1", "docker", spec, ())

    listed = json.loads(cli("runs", "files", "d1", "--json").out)
    assert listed["root"].endswith("/runs/d1")
    assert listed["mounts"] == {"outputs": str(own)}
    files = {f["path"]: f for f in listed["files"]}
    assert files["mounts/outputs/ckpt/model.bin"]["size"] == 2048
    assert files["mounts"]["size"] == 2048
    assert "working folder stays in the container" in listed["note"]
    assert "/srv/shared:/shared" in listed["note"] and "data-d1" not in listed["note"]

    dest = tmp_path / "model.bin"
    assert cli("runs", "cp", "d1", "mounts/outputs/ckpt/model.bin", str(dest)).code == 0
    assert dest.stat().st_size == 2048
    refused = refusal_checker(cli, store.path)
    refused(["runs", "cp", "d1", "mounts/outputs/../../x", str(dest)], "PATH", "'..'")


def test_cp_refuses_a_fifo_and_a_missing_destination_folder(cli, store, db_path, tmp_path):
    run_id = claimed_run(store, tmp_path, "r1")
    folder = store.run_dir(run_id)
    (folder / "work").mkdir(parents=True)
    (folder / "work" / "out.txt").write_text("x")
    os.mkfifo(folder / "work" / "pipe")
    refused = refusal_checker(cli, db_path)
    refused(["runs", "cp", run_id, "work/pipe", str(tmp_path / "p")], "PATH", "FIFO")
    missing = str(tmp_path / "no" / "such" / "out.txt")
    refused(["runs", "cp", run_id, "work/out.txt", missing], "DEST", "not a folder")
    # A folder holding a FIFO: the rest is copied, and the FIFO named.
    result = cli("runs", "cp", run_id, "work", str(tmp_path / "copy"))
    assert result.code == 2 and "except: work/pipe" in result.err
    assert (tmp_path / "copy" / "out.txt").read_text() == "x"


@pytest.mark.parametrize(
    ("resource", "spec", "remote"),
    [
        (
            "sagemaker",
            {
                "resource_args": {
                    "TrainingJobName": "my-job",
                    "OutputDataConfig": {"S3OutputPath": "s3://b/runs/"},
                }
            },
            "s3://b/runs/my-job/",
        ),
        (
            "vertex",
            {
                "run_id": "r1",
                "target": {"project": "p", "location": "l"},
                "resource_args": {"spec": {"staging_bucket": "gs://b/"}},
            },
            "gs://b/launchbay/r1/",
        ),
        (
            "vertex",
            {
                "run_id": "r1",
                "target": {"project": "p", "location": "l"},
                "resource_args": {
                    "spec": {"staging_bucket": "gs://b", "base_output_dir": "gs://o"}
                },
            },
            "gs://o/",
        ),
    ],
)
def test_sagemaker_and_vertex_runs_files_are_their_output_in_s3_or_gcs(
    resource, spec, remote, tmp_path
):
    from runners.registry import get_runner

    files = get_runner(resource).run_files(spec, tmp_path)  # nothing is asked of the cloud yet
    assert files.root is None and files.remote.uri == remote and files.where == remote


def test_kubernetes_runs_without_outputs_say_why_their_files_are_not_listed(tmp_path):
    from runners.registry import get_runner

    files = get_runner("kubernetes").run_files({"resource_args": {}}, tmp_path)
    assert files.root is None and files.remote is None
    assert files.note == (
        "kubernetes runs' files are not listed: their queue sets no target.outputs (an S3"
        " folder each run writes to, at $LAUNCHBAY_OUTPUTS)"
    )


def test_kubernetes_runs_with_outputs_are_their_folder_there_or_say_boto3_is_needed(
    tmp_path, monkeypatch
):
    import importlib.util

    from runners.registry import get_runner

    spec = {"resource_args": {}, "target": {"outputs": "s3://lb-out/k8s/"}, "run_id": "r1"}
    files = get_runner("kubernetes").run_files(spec, tmp_path)  # nothing asked of S3 yet
    assert files.remote.uri == "s3://lb-out/k8s/r1/"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "boto3" else real_find_spec(name, *args),
    )
    files = get_runner("kubernetes").run_files(spec, tmp_path)
    assert files.remote is None
    assert files.note == (
        "this run's files are in s3://lb-out/k8s/r1/; install boto3 (pip install"
        " 'launchbay[sagemaker]') for launchbay to list them"
    )


@pytest.mark.usefixtures("engine", "containers_removed_after")
def test_a_real_docker_run_lists_what_it_wrote_into_its_own_mount(cli, store, db_path, tmp_path):
    from kit import AgentThread, docker_queue, image_job, run_of

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    volume = f"{scratch}/${{run_id}}:/outputs"
    docker_queue(store, config={"resource_args": {"volumes": [volume]}})
    image_job(store, "writer", "mkdir -p /outputs/ckpt && echo 0.91 > /outputs/ckpt/acc.txt")
    item = launch(store, "writer", "dock")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state.value == "finished", run.message
    listed = json.loads(cli("runs", "files", run.id, "--json").out)
    files = {f["path"]: f for f in listed["files"]}
    assert files["mounts/outputs/ckpt/acc.txt"]["size"] == 5
    assert "output.log" in files
    assert cli("runs", "cp", run.id, "mounts/outputs/ckpt/acc.txt", str(tmp_path)).code == 0
    assert (tmp_path / "acc.txt").read_text() == "0.91\n"

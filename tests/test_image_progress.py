"""Pull and push progress reach the run's log as one line each, redrawn in place (`\\r`), with the
real engine and the local registry; the line ends with a summary, and the engine's own lines
(the digest) follow it. The log view, `runs logs` and `launch --follow` show the line's latest
state (tests/tui/test_log_view_redrawn.py, tests/test_log_printer.py)."""

import io
import os
import re
import tarfile
import time

import pytest
from kit import (
    BUSYBOX,
    REGISTRY,
    AgentThread,
    docker_queue,
    launch,
    log_of,
    run_of,
    write_code_job,
)

from runners.catalog.jobs import create_job
from runners.images.builder import BuildLog, ensure_present, push
from runners.images.progress import ProgressLine
from runners.runlog.logfile import latest_state, note_in_log
from store import RunState

LAYER_BYTES = 8 * 1024 * 1024


@pytest.fixture
def fresh_image(engine):
    """An image of one new layer (random bytes, so no registry has it), tagged for the local
    registry; removed afterwards."""
    reference = f"{REGISTRY}/progress-{time.time_ns()}:t1"
    repository, tag = reference.rsplit(":", 1)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("blob")
        info.size = LAYER_BYTES
        tar.addfile(info, io.BytesIO(os.urandom(LAYER_BYTES)))
    engine.api.import_image_from_data(archive.getvalue(), repository=repository, tag=tag)
    yield reference
    engine.images.remove(reference, force=True)


def states(line: str) -> list[str]:
    """The states a redrawn line went through, first to last."""
    return line.split("\r")


def test_a_push_and_a_pull_are_each_one_line_redrawn_until_their_summary(
    engine, fresh_image, tmp_path
):
    log_path = tmp_path / "output.log"
    log = BuildLog(log_path)
    push(engine, fresh_image, log)
    engine.images.remove(fresh_image)  # the layer goes with it: the pull downloads it
    ensure_present(engine, fresh_image, None, log)

    lines = log_path.read_bytes().decode().split("\n")
    assert lines[-1] == ""  # every line ended
    pushed, digest, pulled, *engine_lines, _ = lines
    assert states(pushed)[0] == f"[launchbay] pushing {fresh_image}"
    assert re.fullmatch(
        rf"\[launchbay\] pushed {re.escape(fresh_image)}: 1 layer, 8\.4 MB in \d+\.\d s",
        latest_state(pushed),
    ), pushed
    moving = rf"\[launchbay\] pushing {re.escape(fresh_image)}: 0/1 layers, \d+\.\d/8\.4 MB"
    assert any(re.fullmatch(moving, state) for state in states(pushed)), pushed  # bytes drawn
    assert 3 <= len(states(pushed)) <= 60, pushed  # redrawn, a few dozen times at most
    assert re.fullmatch(r"t1: digest: sha256:\w+ size: \d+", digest), digest

    assert states(pulled)[0] == f"[launchbay] pulling {fresh_image}"
    assert re.fullmatch(
        rf"\[launchbay\] pulled {re.escape(fresh_image)}: 1 layer, 8\.4 MB in \d+\.\d s",
        latest_state(pulled),
    ), pulled
    assert 3 <= len(states(pulled)) <= 60, pulled
    assert engine_lines == [
        engine_lines[0],
        f"Status: Downloaded newer image for {fresh_image}",
    ] and engine_lines[0].startswith("Digest: sha256:"), engine_lines


def test_a_build_pulling_its_from_image_redraws_one_line_named_by_the_engine(
    engine, store, db_path, tmp_path
):
    # busybox and a layer of random bytes, in the registry only: the build pulls that layer.
    base = f"{REGISTRY}/progress-base-{time.time_ns()}"
    context = tmp_path / "base"
    context.mkdir()
    (context / "blob").write_bytes(os.urandom(LAYER_BYTES))
    (context / "Dockerfile").write_text(f"FROM {BUSYBOX}\nCOPY blob /blob\n")
    engine.images.build(path=str(context), tag=f"{base}:t1", network_mode="none")
    engine.images.push(base, tag="t1")
    engine.images.remove(f"{base}:t1")
    code = write_code_job(tmp_path / "from-registry", "")
    (code / "Dockerfile").write_text(f"FROM {base}:t1\nCOPY . /src\n")
    (code / "nonce.txt").write_text(str(time.time_ns()))  # a build, never the engine's cache
    create_job(store, "code", "from-registry", str(code))
    docker_queue(store)
    item = launch(store, "from-registry", "dock", entry_point="echo built")
    with AgentThread(db_path):
        run = run_of(store, item, timeout=120)
    log = log_of(store, run.id).split("\n")
    assert run.state is RunState.FINISHED, log
    pulled = next(line for line in log if line.startswith("[launchbay] pulling a FROM image"))
    name = base.removeprefix(f"{REGISTRY}/")
    assert re.fullmatch(
        rf"\[launchbay\] pulled {re.escape(name)}:t1: 2 layers \(1 already there\),"
        r" 8\.4 MB in \d+\.\d s",
        latest_state(pulled),
    ), pulled
    assert "built" in log
    engine.images.remove(f"{base}:t1", force=True)


def test_a_line_is_redrawn_when_a_layer_is_done_or_a_fiftieth_of_the_bytes_moved():
    line = ProgressLine("pushing", "pushed", "r/x:1")
    drawn = [line.update({"status": "The push refers to repository [r/x]"})]
    for layer in ("aaa", "bbb"):
        drawn.append(line.update({"status": "Preparing", "id": layer, "progressDetail": {}}))
    for current in range(0, 10_000_001, 50_000):  # 201 messages for one layer of 10 MB
        detail = {"current": current, "total": 10_000_000}
        drawn.append(line.update({"status": "Pushing", "id": "aaa", "progressDetail": detail}))
    drawn.append(line.update({"status": "Pushed", "id": "aaa", "progressDetail": {}}))
    drawn.append(line.update({"status": "Layer already exists", "id": "bbb"}))
    drawn.append(line.update({"status": "1: digest: sha256:abc size: 9"}))
    redraws = [text for text in drawn if text is not None]
    assert redraws[:3] == [
        "[launchbay] pushing r/x:1: 0/1 layers",
        "[launchbay] pushing r/x:1: 0/2 layers",
        "[launchbay] pushing r/x:1: 0/2 layers, 0.2/10.0 MB",
    ]
    assert len(redraws) == 2 + 50 + 2  # the layers seen, each fiftieth moved, each layer done
    assert redraws[-3:] == [
        "[launchbay] pushing r/x:1: 0/2 layers, 10.0/10.0 MB",
        "[launchbay] pushing r/x:1: 1/2 layers, 10.0/10.0 MB",
        "[launchbay] pushing r/x:1: 2/2 layers, 10.0/10.0 MB",
    ]
    assert re.fullmatch(
        r"\[launchbay\] pushed r/x:1: 2 layers \(1 already there\), 10\.0 MB in \d+\.\d s",
        line.summary(),
    )
    assert line.engine_lines == ["1: digest: sha256:abc size: 9"]


def test_a_failed_pull_ends_its_line_as_it_stood(engine, tmp_path):
    log_path = tmp_path / "output.log"
    missing = f"{REGISTRY}/never-pushed-{time.time_ns()}:t1"
    with pytest.raises(Exception, match="pulling it failed"):
        ensure_present(engine, missing, None, BuildLog(log_path))
    assert (
        log_path.read_bytes().decode()
        == f"[launchbay] pulling {missing}\r[launchbay] pulling {missing}\n"
    )


def test_a_layer_mounted_from_another_repository_is_done_and_was_there():
    line = ProgressLine("pushing", "pushed", "r/x:1")
    line.update({"status": "Preparing", "id": "aaa"})
    assert line.update({"status": "Mounted from library/base", "id": "aaa"}) == (
        "[launchbay] pushing r/x:1: 1/1 layers"
    )
    assert line.summary().startswith("[launchbay] pushed r/x:1: 1 layer (1 already there) in ")


def test_a_note_after_a_line_left_unended_starts_a_line_of_its_own(tmp_path):
    # An agent killed mid-pull leaves its progress line unended; the next one's note follows.
    log_path = tmp_path / "output.log"
    log_path.write_bytes(b"[launchbay] pulling x\r[launchbay] pulling x: 0/1 layers")
    note_in_log(log_path, "run crashed: its agent died")
    note_in_log(log_path, "and once more")
    assert log_path.read_bytes().decode().split("\n") == [
        "[launchbay] pulling x\r[launchbay] pulling x: 0/1 layers",
        "[launchbay] run crashed: its agent died",
        "[launchbay] and once more",
        "",
    ]

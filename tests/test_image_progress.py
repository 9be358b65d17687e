"""Pull and push progress reach the run's log, with the real engine and the local registry: a
line per layer at each tenth of the way and its other states, never the engine's every
message."""

import io
import os
import re
import tarfile
import time

import pytest
from kit import REGISTRY

from runners.images.builder import BuildLog, ensure_present, push
from runners.images.progress import ProgressLines

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


def _progress(log: str, status: str) -> list[int]:
    return [int(p) for p in re.findall(rf"^\w+: {status} (\d+)% of 8\.4 MB$", log, re.M)]


def test_push_and_pull_progress_is_logged_a_line_per_tenth(engine, fresh_image, tmp_path):
    log_path = tmp_path / "output.log"
    log = BuildLog(log_path)
    push(engine, fresh_image, log)
    pushed = log_path.read_text()
    steps = _progress(pushed, "Pushing")
    assert steps and steps == sorted(set(steps)) and steps[-1] == 100, pushed
    assert re.search(r"^\w{12}: Pushed$", pushed, re.M), pushed

    engine.images.remove(fresh_image)  # the layer goes with it: the pull downloads it
    ensure_present(engine, fresh_image, None, log)
    pulled = log_path.read_text()[len(pushed) :]
    assert f"pulling {fresh_image}" in pulled
    assert _progress(pulled, "Downloading") or "Download complete" in pulled, pulled
    extracting = _progress(pulled, "Extracting")
    assert extracting and extracting[-1] == 100, pulled
    assert re.search(r"^\w{12}: Pull complete$", pulled, re.M), pulled
    assert len(pulled.splitlines()) <= 40  # bounded, whatever the engine sent


def test_a_layer_logs_at_most_one_line_per_tenth():
    lines = ProgressLines()
    logged = []
    for current in [*range(0, 1000, 7), 1000]:  # 144 messages for one layer
        chunk = {
            "status": "Pushing",
            "id": "abc",
            "progressDetail": {"current": current, "total": 1000},
        }
        logged += lines.lines(chunk)
    logged += lines.lines({"status": "Pushed", "id": "abc", "progressDetail": {}})
    assert logged == [f"abc: Pushing {p}% of 0.0 MB" for p in range(0, 101, 10)] + ["abc: Pushed"]

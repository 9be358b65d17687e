"""TensorBoard event files, written by the real writers (tensorboardX's SummaryWriter, and
tensorboard's EventFileWriter that PyTorch's SummaryWriter uses), read back as metric points:
from a cursor, while still being written, after a restart, and when broken."""

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from kit import wait_for
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboardX import SummaryWriter

from runners.metrics import tensorboard
from runners.metrics.sources import Batch
from runners.metrics.tensorboard import tensorboard_sources
from runners.metrics.tensorboard_reader import EventFileSource

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fresh_cache():
    tensorboard._SCANS.clear()
    yield
    tensorboard._SCANS.clear()


def event_file(directory: Path) -> Path:
    (path,) = directory.glob("events.out.tfevents.*")
    return path


def source_of(path: Path) -> EventFileSource:
    return EventFileSource(path, "tensorboard:" + path.name)


def read_all(source, cursor=None, limit=1000):
    """Read until the source has nothing more: (points, cursor, malformed)."""
    points, malformed = [], 0
    while True:
        batch = source.read(cursor, limit)
        points += batch.points
        malformed += batch.malformed
        if batch.cursor == cursor:
            return points, cursor, malformed
        cursor = batch.cursor


def triples(points):
    return [(p.key, p.step, p.value) for p in points]


def write_losses(directory: Path, steps) -> None:
    writer = SummaryWriter(str(directory))
    for step in steps:
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
    writer.close()


def test_scalars_come_back_with_tags_steps_values_and_times_other_kinds_are_skipped(tmp_path):
    before = time.time()
    writer = SummaryWriter(str(tmp_path))
    for step in range(3):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
        writer.add_scalar("val/acc", step * 0.25, step)
    writer.add_scalar("weird", float("nan"), 3)
    writer.add_scalar("weird", float("inf"), 4)
    writer.add_histogram("weights", np.arange(10), 0)
    writer.add_image("sample", np.zeros((3, 4, 4)), 0)
    writer.add_text("notes", "hello", 0)
    writer.close()

    points, cursor, malformed = read_all(source_of(event_file(tmp_path)))

    assert triples(points)[:6] == [
        ("train/loss", 0, 1.0),
        ("val/acc", 0, 0.0),
        ("train/loss", 1, 0.5),
        ("val/acc", 1, 0.25),
        ("train/loss", 2, pytest.approx(1 / 3)),
        ("val/acc", 2, 0.5),
    ]
    assert math.isnan(points[6].value) and points[7].value == math.inf
    assert len(points) == 8  # histogram, image and text gave nothing
    assert malformed == 0
    assert all(before - 1 <= p.at <= time.time() + 1 for p in points)


def test_a_file_read_in_slices_and_after_a_restart_gives_each_point_once(tmp_path):
    write_losses(tmp_path, range(100))
    path = event_file(tmp_path)
    source = source_of(path)

    first = source.read(None, 30)
    second = source.read(first.cursor, 30)
    assert 0 < len(first.points) <= 30 and 0 < len(second.points) <= 30
    # A restarted agent: a new source, the stored cursor; it passes over what was stored.
    rest, _, _ = read_all(source_of(path), second.cursor, limit=30)

    steps = [p.step for p in first.points + second.points + rest]
    assert steps == list(range(100))


def test_a_cursor_behind_the_open_reader_reads_again_from_it(tmp_path):
    """The agent stores points and cursor together: if storing failed, it asks again from the
    old cursor and must get the same points."""
    write_losses(tmp_path, range(10))
    source = source_of(event_file(tmp_path))
    first = source.read(None, 4)
    second = source.read(first.cursor, 4)
    again = source.read(first.cursor, 4)
    assert [p.step for p in again.points] == [p.step for p in second.points] == [3, 4, 5, 6]
    assert again.cursor == second.cursor


def test_points_appended_after_a_read_are_read_on_from_the_cursor(tmp_path):
    """tensorboardX writes from a thread of its own, to disk when flushed: the file grows while
    it is read."""
    writer = SummaryWriter(str(tmp_path))
    writer.add_scalar("loss", 3.0, 0)
    writer.flush()
    source = source_of(wait_for(lambda: list(tmp_path.glob("events.*")), what="file")[0])
    got, state = [], {"cursor": None}

    def points_read(count):
        writer.flush()  # what its worker thread has taken from its queue so far
        batch = source.read(state["cursor"], 1000)
        got.extend(batch.points)
        state["cursor"] = batch.cursor
        return len(got) >= count

    wait_for(lambda: points_read(1), timeout=10, what="the first point")
    writer.add_scalar("loss", 2.0, 1)
    writer.add_scalar("loss", 1.0, 2)
    wait_for(lambda: points_read(3), timeout=10, what="the appended points")
    writer.close()
    assert triples(got) == [("loss", 0, 3.0), ("loss", 1, 2.0), ("loss", 2, 1.0)]
    assert source.read(state["cursor"], 1000).points == []


def write_v2(directory: Path, values) -> Path:
    """v2 scalars as TensorFlow 2 writes them: a tensor, its metadata on the tag's first value
    only; through tensorboard's EventFileWriter (the one PyTorch's SummaryWriter uses)."""
    writer = EventFileWriter(str(directory))
    for step, value in enumerate(values):
        summary = scalar_pb("eval/f1", value)
        if step:
            summary.value[0].ClearField("metadata")
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))
    writer.close()
    return event_file(directory)


def test_v2_tensor_scalars_are_read_even_after_a_restart_past_their_metadata(tmp_path):
    path = write_v2(tmp_path, [0.5, 0.75, 1.0])
    source = source_of(path)
    first = source.read(None, 2)  # the file's version record, then the first value
    assert triples(first.points) == [("eval/f1", 0, 0.5)]

    rest, _, malformed = read_all(source_of(path), first.cursor)
    assert triples(rest) == [("eval/f1", 1, 0.75), ("eval/f1", 2, 1.0)]
    assert malformed == 0


def test_a_truncated_last_record_is_read_once_it_is_whole(tmp_path):
    written = tmp_path / "written"
    write_losses(written, range(5))
    whole = event_file(written).read_bytes()
    live = tmp_path / "live" / "events.out.tfevents.1.host"
    live.parent.mkdir()
    live.write_bytes(whole[:-7])  # the writer has flushed part of its last record

    source = source_of(live)
    points, cursor, malformed = read_all(source)
    assert [p.step for p in points] == [0, 1, 2, 3] and malformed == 0
    # A restarted agent meets the same short tail.
    assert read_all(source_of(live), cursor)[0] == []

    with live.open("ab") as tail:
        tail.write(whole[-7:])
    points, _, malformed = read_all(source, cursor)
    assert [p.step for p in points] == [4] and malformed == 0


def test_a_corrupt_record_stops_the_file_counted_once_and_never_raises(tmp_path):
    write_losses(tmp_path, range(10))
    path = event_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    source = source_of(path)
    points, cursor, malformed = read_all(source)
    assert 0 < len(points) < 10 and [p.step for p in points] == list(range(len(points)))
    assert malformed == 1 and cursor.endswith("corrupt")
    # Neither this agent nor a restarted one counts it again.
    assert source.read(cursor, 100).malformed == 0
    assert source_of(path).read(cursor, 100).malformed == 0


def test_a_file_that_is_no_event_file_is_counted_malformed(tmp_path):
    path = tmp_path / "events.out.tfevents.2.host"
    path.write_bytes(os.urandom(4096))
    points, cursor, malformed = read_all(source_of(path))
    assert points == [] and malformed == 1


def test_a_record_that_is_no_event_is_counted_and_the_next_ones_read(tmp_path):
    path = tmp_path / "events.out.tfevents.3.host"
    good = event_pb2.Event(step=7, wall_time=1.0, summary=scalar_pb("x", 2.0))
    with path.open("wb") as out:
        records = RecordWriter(out)
        records.write(b"\xff\xff\xff not a proto")
        records.write(good.SerializeToString())
    points, _, malformed = read_all(source_of(path))
    assert triples(points) == [("x", 7, 2.0)] and malformed == 1


def test_a_file_removed_after_a_read_gives_nothing_more_and_never_raises(tmp_path):
    write_losses(tmp_path, range(3))
    path = event_file(tmp_path)
    source = source_of(path)
    first = source.read(None, 2)
    path.unlink()
    # What the open reader had buffered may still come; nothing else, and no exception.
    assert [p.step for p in source.read(first.cursor, 100).points] in ([], [1, 2])
    assert source_of(path).read(first.cursor, 100) == Batch([], first.cursor)


def test_a_folder_made_after_the_first_look_is_looked_in_later(tmp_path):
    folder = tmp_path / "work"
    assert list(tensorboard_sources(folder)) == []
    write_losses(folder / "runs" / "a", range(2))
    assert len(tensorboard_sources(folder)) == 1


def test_a_folder_with_two_runs_writers_gives_one_source_each_named_by_its_path(tmp_path):
    write_losses(tmp_path / "runs" / "Dec02_lr0.1", range(3))
    write_losses(tmp_path / "lightning_logs" / "version_0", range(5))
    (tmp_path / "data" / "x.txt").parent.mkdir()
    (tmp_path / "data" / "x.txt").write_text("not a metric")

    sources = tensorboard_sources(tmp_path)

    names = [s.name for s in sources]
    assert [n.rsplit("/", 1)[0] for n in names] == [
        "tensorboard:lightning_logs/version_0",
        "tensorboard:runs/Dec02_lr0.1",
    ]
    assert sources.note is None
    counts = [len(read_all(s)[0]) for s in sources]
    assert counts == [5, 3]
    assert [s.name for s in tensorboard_sources(tmp_path)] == names  # same, still cached


def test_add_scalars_sub_writers_keep_their_points_apart(tmp_path):
    writer = SummaryWriter(str(tmp_path / "runs" / "a"))
    writer.add_scalar("loss", 1.0, 0)
    writer.add_scalars("lr", {"head": 0.1, "body": 0.01}, 0)
    writer.close()

    keys = sorted(p.key for s in tensorboard_sources(tmp_path) for p in read_all(s)[0])
    assert keys == ["loss", "lr/body/lr", "lr/head/lr"]


def test_a_writer_started_later_is_found_and_found_sources_stay_the_same(tmp_path):
    write_losses(tmp_path / "runs" / "first", range(2))
    first = tensorboard_sources(tmp_path)
    assert len(first) == 1
    cursor = first[0].read(None, 100).cursor

    write_losses(tmp_path / "runs" / "second" / "deeper", range(4))
    write_losses(tmp_path / ".hidden", range(4))  # never walked
    later = tensorboard_sources(tmp_path)

    assert len(later) == 2 and later[0] is first[0]
    assert later[0].read(cursor, 100).points == []
    assert len(read_all(later[1])[0]) == 4


def test_without_the_extra_the_caller_is_told_once_and_gets_nothing(tmp_path, monkeypatch):
    write_losses(tmp_path / "runs" / "x", range(2))
    monkeypatch.setitem(sys.modules, "runners.metrics.tensorboard_reader", None)
    monkeypatch.setattr(tensorboard, "_reader_module", None)
    monkeypatch.setattr(tensorboard, "_import_error", None)

    first = tensorboard_sources(tmp_path)
    second = tensorboard_sources(tmp_path)

    assert list(first) == [] and list(second) == []
    assert "install launchbay[tensorboard]" in first.note and str(tmp_path) in first.note
    assert second.note is None


def test_tensorboard_is_not_imported_where_no_event_file_exists(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "train.log").write_text("epoch 1\n")
    code = (
        "import sys; from pathlib import Path;"
        "from runners.metrics.tensorboard import tensorboard_sources;"
        f"assert list(tensorboard_sources(Path({str(tmp_path)!r}))) == [];"
        "print(sorted(m for m in sys.modules if m.startswith(('tensorboard', 'numpy'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"

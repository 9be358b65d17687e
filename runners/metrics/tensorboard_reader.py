"""One TensorBoard event file as a metric source: its scalar summaries, read on from a cursor.

Imported only once an event file has been found (it imports tensorboard, ~0.3 s): the records
are read by tensorboard's own record reader (the pure-Python one tensorboard uses whenever
TensorFlow is absent, so the agent never imports TensorFlow, and it tells a truncated tail from
a corrupt record, which tensorboard's event_file_loader swallows alike), each record decoded
with tensorboard's Event proto.

The cursor is the number of records consumed, so it holds whatever reader the next agent has.
While the agent lives the source keeps its reader open and reads only what was appended; a
restarted agent reopens the file and passes over the records its cursor counts (about 55,000
a second) without returning their points again.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf.message import DecodeError
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
from tensorboard.util import tensor_util

from runners.metrics.sources import Batch, Point

SCALARS_PLUGIN = "scalars"  # tensorboard.plugins.scalar.metadata.PLUGIN_NAME
CORRUPT = "corrupt"

_END = object()  # nothing more for now: the end of the file, or a record still being written
_BROKEN = object()  # a record failed its checksum: the rest of the file can't be trusted


def parse_cursor(cursor: str | None) -> tuple[int, bool]:
    """(records consumed, whether the file was found corrupt) from a cursor's text."""
    if cursor is None:
        return 0, False
    count, _, state = cursor.partition(" ")
    if not count.isdigit() or state not in ("", CORRUPT):
        raise ValueError(f"not a TensorBoard event file cursor: {cursor!r}")
    return int(count), state == CORRUPT


class EventFileSource:
    """The scalar points of one event file. `prefix` goes before every tag (a writer in a
    sub-folder of another writer's folder, as add_scalars makes, keeps its points apart)."""

    def __init__(self, path: Path, name: str, prefix: str = "") -> None:
        self.path = path
        self.name = name
        self.prefix = prefix
        self._reader = None
        self._records = 0  # records consumed by the open reader
        # The plugin each tag was first written with: a v2 summary carries its metadata only on
        # a tag's first value (tensorboard's dataclass_compat keeps the same map).
        self._plugins: dict[str, str] = {}

    def read(self, cursor: str | None, limit: int) -> Batch:
        done, corrupt = parse_cursor(cursor)
        if corrupt:
            return Batch([], cursor)
        if (self._reader is None or self._records > done) and not self._open():
            return Batch([], cursor)
        while self._records < done:  # what an earlier read returned: decoded, not returned
            record = self._next_record()
            if record is _END:
                return Batch([], cursor)
            if record is _BROKEN:
                return Batch([], f"{done} {CORRUPT}", 1)
            self._records += 1
            self._decode(record)  # for the tags' first metadata
        points: list[Point] = []
        malformed = 0
        # At most `limit` records a call (a record holds one value or a few).
        for _ in range(max(limit, 1)):
            record = self._next_record()
            if record is _END:
                break
            if record is _BROKEN:
                return Batch(points, f"{self._records} {CORRUPT}", malformed + 1)
            self._records += 1
            got, bad = self._decode(record)
            points.extend(got)
            malformed += bad
        return Batch(points, str(self._records), malformed)

    def _open(self) -> bool:
        self._reader, self._records, self._plugins = None, 0, {}
        try:
            self._reader = pywrap_tensorflow.PyRecordReader_New(str(self.path))
        except (OSError, errors.OpError):
            return False  # gone, or not there yet: nothing to read
        return True

    def _next_record(self):
        try:
            self._reader.GetNext()
        except errors.OutOfRangeError:
            return _END
        except errors.DataLossError as exc:
            # A writer flushes a record in pieces: a short tail is read again once it is whole.
            return _END if "truncated" in str(exc) else _BROKEN
        except (OSError, errors.OpError):
            return _END  # removed while being read (the reader reopens the file each read)
        return self._reader.record()

    def _decode(self, record: bytes) -> tuple[list[Point], int]:
        """The scalar points of one record and how many of its values were malformed.
        Histograms, images, text and the like are no metric: skipped, not counted."""
        try:
            event = event_pb2.Event.FromString(record)
        except DecodeError:
            return [], 1
        if event.WhichOneof("what") != "summary":
            return [], 0
        points, malformed = [], 0
        for value in event.summary.value:
            plugin = self._plugins.setdefault(value.tag, value.metadata.plugin_data.plugin_name)
            kind = value.WhichOneof("value")
            if kind == "simple_value":  # v1: what tensorboardX and PyTorch write by default
                number = value.simple_value
            elif kind == "tensor" and plugin == SCALARS_PLUGIN:  # v2: a 0-d tensor
                number = _scalar(value.tensor)
                if number is None:
                    malformed += 1
                    continue
            else:
                continue
            points.append(Point(self.prefix + value.tag, number, event.step, event.wall_time))
        return points, malformed


def _scalar(tensor) -> float | None:
    try:
        array = tensor_util.make_ndarray(tensor)
        return float(array.reshape(-1)[0]) if array.size == 1 else None
    except (TypeError, ValueError):
        return None

"""The JSON-lines protocol: what a line gives, the byte-offset cursor, and hostile lines
(a 10 MB line, deep nesting, non-numbers) counted and skipped, never a crash."""

import math

from runners.metrics.jsonl import METRICS_LINE_PREFIX, JsonLinesSource, parse_line


def _values(points):
    return [(p.key, p.value, p.step, p.at) for p in points]


def test_a_line_gives_its_numbers_with_step_and_time_and_nothing_else():
    points, malformed = parse_line(
        b'{"loss": 0.5, "n": 3, "val": {"acc": 0.9}, "step": 10, "time": 1700000000.5,'
        b' "ok": true, "name": "x", "none": null, "list": [1], "big": NaN, "up": Infinity}'
    )
    assert malformed == 0
    got = {p.key: p for p in points}
    assert sorted(got) == ["big", "loss", "n", "up", "val/acc"]
    assert (got["loss"].value, got["loss"].step, got["loss"].at) == (0.5, 10, 1700000000.5)
    assert math.isnan(got["big"].value) and got["up"].value == math.inf
    assert _values(parse_line('{"_step": 4, "_timestamp": 5, "a": 1}')[0]) == [("a", 1.0, 4, 5.0)]


def test_what_is_no_json_object_is_malformed():
    for line in (b"not json", b"[1, 2]", b"3", b'{"a": 1', "[" * 100_000, b"\xff\xfe"):
        assert parse_line(line) == ([], 1), line[:20]
    deep = '{"a": ' * 50 + "1" + "}" * 50  # valid JSON, nested past MAX_DEPTH: refused
    points, malformed = parse_line(deep)
    assert points == [] and malformed == 1
    assert parse_line('{"' + "k" * 1000 + '": 1, "ok": 2}') == (parse_line('{"ok": 2}')[0], 1)


def test_the_cursor_is_the_end_of_the_last_whole_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 3')  # the last line still being written
    source = JsonLinesSource("file", path)
    batch = source.read(None, 100)
    assert [p.value for p in batch.points] == [1.0, 2.0]
    assert batch.cursor == str(len(b'{"a": 1}\n{"a": 2}\n'))
    with open(path, "ab") as f:
        f.write(b"}\nbad\n")
    again = source.read(batch.cursor, 100)
    assert [p.value for p in again.points] == [3.0] and again.malformed == 1
    assert source.read(again.cursor, 100).points == []
    assert JsonLinesSource("file", tmp_path / "absent").read(None, 10).points == []


def test_a_file_truncated_and_written_anew_is_read_again_from_its_start(tmp_path):
    """A job restarted from scratch opens its metrics file with "w": what it writes now is
    read, not skipped because the old cursor lies past the new end."""
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 3}\n')
    source = JsonLinesSource("file", path)
    first = source.read(None, 100)
    assert [p.value for p in first.points] == [1.0, 2.0, 3.0]
    path.write_bytes(b'{"a": 10}\n')  # shorter than the cursor
    again = source.read(first.cursor, 100)
    assert [p.value for p in again.points] == [10.0]
    assert again.cursor == str(len(b'{"a": 10}\n'))


def test_a_read_stops_at_its_limit_and_the_next_goes_on(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text("".join(f'{{"a": {i}, "step": {i}}}\n' for i in range(25)))
    source, cursor, seen = JsonLinesSource("file", path), None, []
    for _ in range(10):
        batch = source.read(cursor, 10)
        assert len(batch.points) <= 10
        seen += [p.step for p in batch.points]
        cursor = batch.cursor
    assert seen == list(range(25))


def test_a_10_mb_line_is_skipped_and_counted_even_while_it_is_written(tmp_path):
    path = tmp_path / "m.jsonl"
    huge = b'{"a": "' + b"x" * (10 << 20)
    path.write_bytes(b'{"a": 1}\n' + huge[: 5 << 20])  # half written
    source = JsonLinesSource("file", path)
    first = source.read(None, 100)
    assert [p.value for p in first.points] == [1.0] and first.malformed == 1
    assert first.cursor.endswith("!")  # inside the long line: skipped up to its newline
    with open(path, "ab") as f:
        f.write(huge[5 << 20 :] + b'"}\n{"a": 2}\n')
    second = source.read(first.cursor, 100)
    assert [p.value for p in second.points] == [2.0] and second.malformed == 0
    assert second.cursor == str(path.stat().st_size)


def test_the_log_source_reads_only_lines_with_the_prefix(tmp_path):
    log = tmp_path / "output.log"
    lines = [
        "epoch 1 starting {not json}",
        f'{METRICS_LINE_PREFIX}{{"loss": 0.3, "step": 1}}',
        f"{METRICS_LINE_PREFIX}oops",
        "x" * (5 << 20),  # the job's own long output line: not ours, not counted
        f'{METRICS_LINE_PREFIX}{{"loss": 0.2, "step": 2}}',
    ]
    log.write_text("\n".join(lines) + "\n")
    batch = JsonLinesSource("log", log, prefix=METRICS_LINE_PREFIX).read(None, 100)
    assert _values(batch.points) == [("loss", 0.3, 1, None), ("loss", 0.2, 2, None)]
    assert batch.malformed == 1

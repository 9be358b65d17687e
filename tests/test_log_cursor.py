"""Copying a target's output into a run's log exactly once, across agent restarts: timestamped
(LogCopier) or counted in bytes (OffsetCopier: Ray's tail sends it from its start on every read;
tests/test_slurm_offline.py reads a Slurm output file on from the cursor)."""

from runners.runlog.cursor import LogCopier, OffsetCopier, UnrecordedCopy

STAMPS = [f"2026-11-26T08:00:0{i}.000000001Z" for i in range(4)]


def frames(*texts: str) -> list[bytes]:
    return [f"{STAMPS[i]} {text}\n".encode() for i, text in enumerate(texts)]


def copy(log, cursor, lines) -> None:
    copier = LogCopier(log, cursor)
    try:
        for line in lines:
            copier.write(line)
    finally:
        copier.close()


def test_a_restart_sent_everything_again_copies_only_what_is_new(tmp_path):
    log, cursor = tmp_path / "output.log", tmp_path / "cursor"
    copy(log, cursor, frames("one", "two"))
    copy(log, cursor, frames("one", "two", "three"))
    assert log.read_text().splitlines() == ["one", "two", "three"]


def test_a_line_written_by_an_agent_killed_before_recording_it_is_not_repeated(tmp_path):
    log, cursor = tmp_path / "output.log", tmp_path / "cursor"
    copy(log, cursor, frames("one"))
    with log.open("a") as f:  # the next line reached the log; the agent died before the cursor
        f.write("two\n")
    copy(log, cursor, frames("one", "two", "three"))
    assert log.read_text().splitlines() == ["one", "two", "three"]


def test_a_repeated_line_after_a_clean_stop_is_kept(tmp_path):
    log, cursor = tmp_path / "output.log", tmp_path / "cursor"
    copy(log, cursor, frames("epoch done"))
    copy(log, cursor, frames("epoch done", "epoch done"))  # the job printed it twice
    assert log.read_text().splitlines() == ["epoch done", "epoch done"]


def copy_from_the_start(log, cursor, chunks: list[bytes], ended=True, drop=None) -> None:
    """One agent's reads of a source that sends its output from the start (Ray's log tail)."""
    copier = OffsetCopier(log, cursor, drop=drop)
    try:
        for chunk in chunks:
            copier.feed(chunk)
        if ended:
            copier.flush()
    finally:
        copier.close()


def test_output_sent_again_from_its_start_is_copied_on_from_the_cursor(tmp_path):
    log, cursor = tmp_path / "output.log", tmp_path / "cursor"
    copy_from_the_start(log, cursor, [b"one\ntw"], ended=False)  # cut mid-line
    copy_from_the_start(log, cursor, [b"one\n", b"two\nthree\n", b"four"])  # chunked otherwise
    copy_from_the_start(log, cursor, [b"one\ntwo\nthree\nfour"])  # read once more at the end
    assert log.read_bytes() == b"one\ntwo\nthree\nfour\n"  # the log ends its last line


def test_a_chunk_written_by_an_agent_killed_before_recording_it_is_not_repeated(tmp_path):
    log, cursor = tmp_path / "output.log", tmp_path / "cursor"
    copy_from_the_start(log, cursor, [b"one\n"], ended=False)
    with log.open("a") as f:  # the next line reached the log; the agent died before the cursor
        f.write("two\n[launchbay] a note written after it\n")
    copy_from_the_start(log, cursor, [b"one\ntwo\nthree\n"])
    assert log.read_text().splitlines() == [
        "one",
        "two",
        "[launchbay] a note written after it",
        "three",
    ]


def test_dropped_lines_are_never_copied_and_the_cursor_passes_them(tmp_path):
    log, cursor = tmp_path / "output.log", tmp_path / "cursor"
    drop = lambda line: line.startswith(b"Running entrypoint")  # noqa: E731
    source = [b"setting up\nRunning entrypoint for job j: run --token s3cret\nhello\n"]
    copy_from_the_start(log, cursor, source, drop=drop)
    copy_from_the_start(log, cursor, [source[0] + b"bye\n"], drop=drop)
    assert log.read_text().splitlines() == ["setting up", "hello", "bye"]


def test_the_first_line_written_by_an_agent_killed_before_any_cursor_is_not_repeated(tmp_path):
    # The window before the first cursor: the copier records the log's size as it starts.
    log, cursor = tmp_path / "output.log", tmp_path / "cursor"
    log.write_text("[launchbay] built the image\n")
    copy(log, cursor, [])
    with log.open("a") as f:
        f.write("one\n")
    copy(log, cursor, frames("one", "two"))
    offsets_log, offsets_cursor = tmp_path / "offsets.log", tmp_path / "offsets_cursor"
    copy_from_the_start(offsets_log, offsets_cursor, [], ended=False)
    with offsets_log.open("a") as f:
        f.write("one\n")
    copy_from_the_start(offsets_log, offsets_cursor, [b"one\ntwo\n"])
    assert log.read_text().splitlines() == ["[launchbay] built the image", "one", "two"]
    assert offsets_log.read_text().splitlines() == ["one", "two"]


def unrecorded_after(tmp_path, recorded: bytes, unrecorded: bytes) -> UnrecordedCopy:
    log = tmp_path / "output.log"
    log.write_bytes(recorded + unrecorded)
    return UnrecordedCopy(log, len(recorded))


def test_a_page_copied_unrecorded_is_skipped_however_the_reads_split_it(tmp_path):
    # Copied in one page by the killed agent; read again in pages split otherwise, with more.
    skip = unrecorded_after(tmp_path, b"zero\n", b"one\ntwo\nthree\n")
    assert skip.less_copied(b"one\n") == b""
    assert skip.less_copied(b"two\nthree\nfour\n") == b"four\n"
    assert skip.less_copied(b"one\n") == b"one\n"  # all of it skipped: the job's own again


def test_another_streams_page_and_launchbays_notes_do_not_hide_the_unrecorded_page(tmp_path):
    unrecorded = b"[algo-2] two\n[launchbay] TensorBoard event files found\n"
    skip = unrecorded_after(tmp_path, b"[algo-1] one\n", unrecorded)
    assert skip.less_copied(b"[algo-1] later\n") == b"[algo-1] later\n"
    assert skip.less_copied(b"[algo-2] two\n[algo-2] three\n") == b"[algo-2] three\n"


def test_after_the_first_pass_nothing_more_is_skipped(tmp_path):
    skip = unrecorded_after(tmp_path, b"", b"epoch done\n")
    skip.forget()  # the first pass over the source found no page it began
    assert skip.less_copied(b"epoch done\n") == b"epoch done\n"


def test_only_the_whole_of_what_the_log_gained_is_taken_for_the_line_copied(tmp_path):
    # Past the cursor: another pod's line, and a note of launchbay's. The job's empty line and
    # its "1" end those bytes, but are not them: both are copied.
    log, cursor = tmp_path / "output.log", tmp_path / "cursor-b"
    copy(log, cursor, [])
    with log.open("a") as f:
        f.write("step 1\n[launchbay] TensorBoard event files found\n")
    copy(log, cursor, frames("", "1"))
    assert log.read_text().splitlines()[-2:] == ["", "1"]


def test_a_cursor_of_a_stamp_alone_keeps_its_stamp(tmp_path):
    # Written by an older launchbay: the stamp, no log size.
    log, cursor = tmp_path / "output.log", tmp_path / "cursor"
    log.write_text("one\n")
    cursor.write_text(STAMPS[0])
    copy(log, cursor, [])
    copy(log, cursor, frames("one", "two"))
    assert log.read_text().splitlines() == ["one", "two"]

"""Copying timestamped output into a run's log exactly once, across agent restarts."""

from runners.runlog.cursor import LogCopier

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

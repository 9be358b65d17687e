"""A run's log on stdout (`runs logs`, `launch --follow`) as a terminal shows it: a line a
progress bar redraws with `\\r` printed in its last state, and on a terminal, while it is still
being written, drawn and redrawn in place."""

import io
import threading

from kit import make_code_job, make_queue, run_agent_until_empty, run_for_item

from runners.runlog.logfile import follow_lines
from tui.cli.log_printer import ERASE_LINE, LogPrinter


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_runs_logs_prints_a_redrawn_line_in_its_last_state(store, db_path, tmp_path, cli):
    script = "for step in range(3):\n    print(f'step {step}', end='\\r')\nprint('done')\n"
    make_code_job(store, tmp_path, "bar", script)
    make_queue(store)
    item_id = int(cli("launch", "-j", "bar", "-q", "local").out)
    run_agent_until_empty(db_path, "local")
    run = run_for_item(store, item_id)
    assert b"step 0\rstep 1\rstep 2\rdone\n" in store.run_log_path(run.id).read_bytes()
    printed = cli("runs", "logs", run.id)
    assert printed.code == 0, printed.err
    assert printed.out.splitlines() == ["done"]


def test_on_a_terminal_a_line_still_being_written_is_redrawn_in_place(tmp_path):
    log = tmp_path / "output.log"
    log.write_text("building\n")
    terminal = Terminal()
    printer = LogPrinter(terminal)
    drawn, ended = [], threading.Event()
    next_state = threading.Semaphore(0)

    def redrawn(text: str) -> None:
        drawn.append(text)
        printer.redrawn(text)
        next_state.release()

    def write() -> None:
        for state in ("[launchbay] pulling x", "\r[launchbay] pulling x: 0/1 layers"):
            with log.open("a") as f:
                f.write(state)
        next_state.acquire(timeout=30)  # the follower drew it before the line ends
        with log.open("a") as f:
            f.write("\r[launchbay] pulled x: 1 layer in 0.1 s\nrunning\n")
        ended.set()

    writer = threading.Thread(target=write)
    writer.start()
    for line in follow_lines(log, ended.is_set, redrawn=redrawn):
        printer.line(line)
    writer.join()
    # Only a redrawn line is drawn while written; a plain one is printed once whole.
    assert drawn == ["[launchbay] pulling x: 0/1 layers"]
    assert terminal.getvalue() == (
        "building\n"
        f"{ERASE_LINE}[launchbay] pulling x: 0/1 layers"
        f"{ERASE_LINE}[launchbay] pulled x: 1 layer in 0.1 s\n"
        "running\n"
    )


def test_elsewhere_a_redrawn_line_is_printed_once_in_its_last_state():
    piped = io.StringIO()
    printer = LogPrinter(piped)
    assert printer.redrawn is None
    printer.line("a\rb\rc")
    printer.aside(lambda text: piped.write(f"<{text}>\n"), "running")
    printer.end()
    assert piped.getvalue() == "c\n<running>\n"


def test_a_status_line_goes_above_the_line_drawn_and_ctrl_c_leaves_it_whole():
    terminal = Terminal()
    printer = LogPrinter(terminal)
    printer.redrawn("pulling: 1/2 layers")
    printer.aside(lambda text: terminal.write(f"<{text}>\n"), "run x: running")
    printer.end()
    assert terminal.getvalue() == (
        f"{ERASE_LINE}pulling: 1/2 layers{ERASE_LINE}<run x: running>\npulling: 1/2 layers\n"
    )


def test_quickstart_runs_the_sample_and_prints_its_log(cli):
    result = cli("quickstart", "--epochs", "2")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[1] == 'config: {"epochs": 2, "learning_rate": 0.2, "step_seconds": 0.2}'
    assert [line.split()[:2] for line in lines[2:4]] == [["epoch", "1/2"], ["epoch", "2/2"]]
    assert lines[-1] == "done"
    assert "finished (exit code 0)" in result.err

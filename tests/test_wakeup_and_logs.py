"""Waking on another process's write, and following a run's log as it grows."""

import select
import subprocess
import sys

from kit import (
    REPO,
    AgentThread,
    launch,
    make_code_job,
    make_queue,
    run_for_item,
    run_launchbay,
    wait_for,
)

from runners.runlog.logfile import follow_lines
from runners.system.wakeup import FileWatch
from store import RunState


def test_a_write_by_another_process_makes_the_file_watch_readable(store, db_path):
    watch = FileWatch(db_path.parent, {db_path.name, db_path.name + "-wal"})
    assert watch.available
    watch.drain()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--db",
            str(db_path),
            "queue",
            "create",
            "other",
            "--resource",
            "local-process",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    ready, _, _ = select.select([watch.fileno()], [], [], 10)
    assert ready and watch.drain()
    watch.close()


def test_writes_to_unrelated_files_do_not_count(tmp_path):
    watch = FileWatch(tmp_path, {"lb.db", "lb.db-wal"})
    (tmp_path / "notes.txt").write_text("hello")
    assert not watch.drain()
    watch.close()


def test_an_agent_picks_up_an_item_enqueued_by_another_process(store, db_path, tmp_path):
    make_code_job(store, tmp_path, "quick", "print('picked up')")
    make_queue(store)
    with AgentThread(db_path):
        result = run_launchbay("launch", "-j", "quick", "-q", "local", db=db_path)
        assert result.code == 0, result.err
        item_id = int(result.out.strip())
        run = wait_for(
            lambda: (r := run_for_item(store, item_id)) and r.state.is_terminal() and r,
            what="the run to end",
        )
    assert run.state is RunState.FINISHED


def test_follow_lines_reads_everything_written_before_the_end(tmp_path):
    log = tmp_path / "out.log"
    script = (
        "import sys, time\n"
        "for i in range(200):\n"
        "    sys.stdout.write(f'line {i}\\n'); sys.stdout.flush()\n"
        "    time.sleep(0.002)\n"
    )
    with open(log, "w") as out:
        writer = subprocess.Popen([sys.executable, "-c", script], stdout=out)
        lines = list(follow_lines(log, lambda: writer.poll() is not None))
    assert lines == [f"line {i}" for i in range(200)]


def test_runs_logs_follow_prints_until_the_run_ends(store, db_path, tmp_path):
    make_code_job(
        store,
        tmp_path,
        "ticker",
        """
        import time
        for i in range(20):
            print(f"tick {i}")
            time.sleep(0.02)
    """,
    )
    make_queue(store)
    item_id = launch(store, "ticker")
    with AgentThread(db_path):
        run = wait_for(lambda: run_for_item(store, item_id), what="a run")
        result = run_launchbay("runs", "logs", run.id, "-f", db=db_path, timeout=60)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [f"tick {i}" for i in range(20)]


def test_cancelling_by_the_item_id_of_a_claimed_item_stops_its_run(store, db_path, tmp_path, cli):
    make_code_job(
        store, tmp_path, "sleeper", "import time; print('up', flush=True); time.sleep(60)"
    )
    make_queue(store, config={"resource_args": {"stop_grace_seconds": 1}})
    item_id = launch(store, "sleeper")
    with AgentThread(db_path):
        run = wait_for(
            lambda: (r := run_for_item(store, item_id)) and r.handle and r, what="a running run"
        )
        result = cli("runs", "cancel", str(item_id))
        assert result.code == 0 and run.id in result.out
        wait_for(lambda: store.runs.get(run.id).state is RunState.STOPPED, what="stopped")

"""An agent or app with more than 1,024 open file descriptors still waits on processes and
logs: select() refuses descriptors at or above FD_SETSIZE; the waits must not use it."""

import os
import resource
import subprocess
import threading

import pytest

from runners.runlog.logfile import follow_lines
from runners.system import procinfo

FD_SETSIZE = 1024


@pytest.fixture
def many_descriptors():
    """This process holds descriptors past FD_SETSIZE, so every new one is numbered above it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FD_SETSIZE + 200
    if soft < wanted + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, wanted + 100), hard))
    held = []
    try:
        while len(held) < wanted:
            held.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_waiting_for_a_process_works_past_fd_setsize(many_descriptors):
    process = subprocess.Popen(["sleep", "0.2"])
    started = procinfo.start_time(process.pid)
    try:
        assert procinfo.wait_for_exit(process.pid, started, 30) is True
    finally:
        process.wait()


def test_following_a_log_works_past_fd_setsize(many_descriptors, tmp_path):
    log = tmp_path / "output.log"
    log.write_text("first\n")
    done = threading.Event()

    def write_more():
        with log.open("a") as f:
            f.write("second\n")
        done.set()

    threading.Timer(0.2, write_more).start()
    lines = list(follow_lines(log, done.is_set, follow=True))
    assert lines == ["first", "second"]


def test_an_agent_that_ran_leaves_no_descriptor_open(store, db_path, tmp_path):
    from kit import launch, make_code_job, make_queue, run_agent

    make_queue(store)
    make_code_job(store, tmp_path, "quick", "print('x')")

    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    launch(store, "quick")
    run_agent(db_path)  # the first run loads what stays loaded (modules, caches)
    before = open_descriptors()
    for _ in range(3):
        launch(store, "quick")
        run_agent(db_path)
    assert open_descriptors() == before

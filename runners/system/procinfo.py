"""Facts about processes from /proc, and waiting for a process that is not our child."""

import os

from runners.system.fdwait import wait_readable


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone or a zombie.

    With the pid it names a process uniquely: a recycled pid has another start time.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    if fields[0] == b"Z":
        return None
    return int(fields[19])


def is_alive(pid: int, expected_start_time: int | None) -> bool:
    started = start_time(pid)
    return started is not None and (expected_start_time is None or started == expected_start_time)


def wait_for_exit(pid: int, expected_start_time: int | None, timeout: float | None) -> bool:
    """Block until process `pid` exits (True) or `timeout` passes (False), child or not."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        # Checked after opening the pidfd: the fd now pins this process, so a recycled pid
        # can't be mistaken for it.
        if not is_alive(pid, expected_start_time):
            return True
        return wait_readable(fd, timeout)
    finally:
        os.close(fd)

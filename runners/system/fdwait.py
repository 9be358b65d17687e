"""Waiting for a file descriptor to become readable."""

import select


def wait_readable(fd: int, timeout: float | None) -> bool:
    """Block until `fd` is readable (True) or `timeout` seconds pass (False; None: no limit).

    poll(), not select(): select() refuses a descriptor numbered 1024 (FD_SETSIZE) or above,
    and a long-lived agent or app with many runs, logs and connections gets there."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(None if timeout is None else max(0.0, timeout) * 1000))

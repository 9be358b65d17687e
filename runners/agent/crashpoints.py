"""Fault drills: with `LAUNCHBAY_CRASH_AT=<point>` in its environment, a process SIGKILLs
itself when it reaches that point, so a test can crash an agent exactly inside a window that
recovery must cover (after a claim, after a process started but before its handle is kept)."""

import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("LAUNCHBAY_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)

"""A process's output read as it comes, on a thread, so a test can wait for a line it printed
(evidence, not a sleep). CliProcess (stderr) and AgentOutput (stdout) both read this way."""

import threading
import time
from typing import IO


class StreamLines:
    def __init__(self, stream: IO[str], what: str):
        """`what` names the stream in a failure: "stderr", "the agent's output"."""
        self.what = what
        self.lines: list[str] = []
        self._stream = stream
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The first line holding `text`; fails if the stream ends or time passes without it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise AssertionError(f"no {text!r} in {self.what}:\n{''.join(self.lines)}")
                self._changed.wait(left)

    def join(self) -> str:
        """Everything read, once the stream has ended."""
        self._reader.join(timeout=30)
        return "".join(self.lines)

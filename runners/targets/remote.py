"""The base of the remote targets (docker, kubernetes, sagemaker, vertex): what every target
whose runs live elsewhere (an engine, a cluster, a cloud) does the same way, written once.

- the run's handle file, written before anything is created remotely, so that an agent that dies
  in between finds the run again (`record_handle`, `recorded_handle`);
- the SDK clients, one per place they connect to, made once and shared by the run threads
  (`client`);
- the log follower of each run: a thread (`FollowerThread`) started once, told at the run's end
  to read what is left, and waited for up to `log_drain_seconds` before the end is reported
  (`follow_logs`, `drain_logs`);
- the last-known status, which a run keeps while its backend can't be read for now
  (`remember`, `unknown_for_now`);
- the job's entry point and args on a container, under each target's names (`put_command`);
- the growing delay between retries (`Backoff`).
"""

import abc
import json
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Protocol

from runners.protocol import Handle, Runner, RunStatus
from runners.system.files import write_private
from store import RunState

HANDLE_FILE = "handle.json"


class LogFollower(Protocol):
    """A thread copying a run's output from its target into the run's log."""

    #: set once the follower has stopped (its last lines written, or given up)
    done: threading.Event

    def start(self) -> "LogFollower": ...

    def finish(self) -> None:
        """The run has ended: read what is left, then stop."""


class FollowerThread(abc.ABC):
    """A log follower's lifecycle, for the followers to subclass: a daemon thread runs
    `follow()`; `finish()` tells it the run has ended (`job_ended`: read what is left, then
    return); `done` is set once it has returned, however it did."""

    def __init__(self, name: str):
        self.job_ended = threading.Event()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "FollowerThread":
        self._thread.start()
        return self

    def finish(self) -> None:
        self.job_ended.set()

    @abc.abstractmethod
    def follow(self) -> None:
        """Copy the run's output into its log until the run ends (or the follower gives up)."""

    def _run(self) -> None:
        try:
            self.follow()
        finally:
            self.done.set()


class PollingFollower(FollowerThread):
    """A follower of a log API with no push (CloudWatch, Cloud Logging): it reads every `every`
    seconds into `log_path`, from a cursor kept in `cursor_path` so that a restarted agent goes
    on where the last one stopped; a job on more than one machine has each line prefixed with
    the machine it came from."""

    def __init__(
        self, name: str, *, log_path: Path, cursor_path: Path, every: float, machines: int
    ):
        super().__init__(name)
        self._prefix_lines = machines > 1  # decided once: lines keep one shape throughout
        self._log_path = log_path
        self._cursor_path = cursor_path
        self._every = every


class RemoteRunner(Runner):
    """A runner whose runs live on a remote backend. Subclasses still implement submit, status
    and cancel; this class holds the shapes they share."""

    #: once a run's logs are drained, they are never followed again (a status asked again
    #: after the run's end starts no follower; without it, one that reads once more)
    follow_logs_once: bool = False

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the clients, the followers, and a subclass's own maps
        self._sdk_clients: dict[Hashable, Any] = {}
        self._followers: dict[Hashable, LogFollower] = {}
        self._drained: set[Hashable] = set()
        self._last_seen: dict[Hashable, RunStatus] = {}

    # -- the handle file -------------------------------------------------------------------------

    @staticmethod
    def record_handle(run_dir: Path, handle: Handle) -> None:
        """Keep the handle in the run's folder before anything is created remotely."""
        write_private(Path(run_dir) / HANDLE_FILE, json.dumps(handle))

    @staticmethod
    def recorded_handle(run_dir: Path) -> Handle | None:
        """The handle `record_handle` kept, or None when there is none (never submitted)."""
        try:
            return json.loads((Path(run_dir) / HANDLE_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    # -- SDK clients -----------------------------------------------------------------------------

    def client(self, key: Hashable, connect: Callable[[], Any]) -> Any:
        """The client for `key` (where it connects, with which credentials), made by `connect`
        the first time. Made under the lock: two run threads never connect twice."""
        with self._lock:
            client = self._sdk_clients.get(key)
            if client is None:
                client = self._sdk_clients[key] = connect()
            return client

    # -- log followers ---------------------------------------------------------------------------

    def follow_logs(
        self, key: Hashable, make: Callable[[], LogFollower], *, replace_ended: bool = False
    ) -> LogFollower | None:
        """The run's follower, started the first time. `replace_ended`: one that stopped while
        the run goes on (its stream cut) is replaced; its cursor makes the new one go on where it
        stopped. None for a run already drained when `follow_logs_once`."""
        with self._lock:
            if key in self._drained:
                return None
            follower = self._followers.get(key)
            if follower is None or (replace_ended and follower.done.is_set()):
                follower = self._followers[key] = make().start()
            return follower

    def running_follower(self, key: Hashable) -> LogFollower | None:
        with self._lock:
            return self._followers.get(key)

    def drain_logs(self, key: Hashable) -> LogFollower | None:
        """At the run's end: its follower reads what is left, waited for up to
        `log_drain_seconds`, so every line is in the log before the end is reported."""
        with self._lock:
            follower = self._followers.get(key)
            if self.follow_logs_once:
                self._drained.add(key)
        if follower is None:
            return None
        follower.finish()
        follower.done.wait(self.log_drain_seconds)
        with self._lock:
            if self._followers.get(key) is follower:
                del self._followers[key]
        return follower

    # -- the last-known status -------------------------------------------------------------------

    def remember(self, key: Hashable, status: RunStatus) -> RunStatus:
        """Keep `status` as the run's last known one; returned as it is."""
        self._last_seen[key] = status
        return status

    def unknown_for_now(self, key: Hashable, message: str) -> RunStatus:
        """An error past the SDK's retries (throttling, an expired token, the service away): the
        job runs on regardless, so the run keeps its last known state, with `message`."""
        last = self._last_seen.get(key, RunStatus(RunState.STARTING))
        return RunStatus(last.state, message)


def put_command(
    container: dict, spec: dict, *, command: str = "command", args: str = "args"
) -> dict:
    """The job's entry point and args on `container`, under the target's names for them: the
    entry point only when the job has one (else the image's own runs), the args when any."""
    if spec.get("entry_point") is not None:
        container[command] = list(spec["entry_point"])
    if spec.get("args"):
        container[args] = list(spec["args"])
    return container


class Backoff:
    """The delay before the next try: `first`, doubled at each try up to `most`. `sleep`
    returns early when `stop` is set."""

    def __init__(self, first: float = 0.2, most: float = 10.0, stop: threading.Event | None = None):
        self._first, self._most = first, most
        self._stop = stop or threading.Event()
        self.delay = first

    def reset(self) -> None:
        self.delay = self._first

    def sleep(self) -> None:
        self._stop.wait(self.delay)
        self.delay = min(self.delay * 2, self._most)

"""The Ray head the ray tests share (started by scripts/services/ray.sh), and the network
namespace it runs in.

On Linux a Ray head binds the machine's own address, whatever --node-ip-address says; so that
test traffic stays on loopback, the head runs in the namespace RAY_NETNS, where only `lo` is up,
and its Jobs API answers at RAY_ADDRESS there only. How the tests reach it: the test process's
main thread joins the namespace for the ray test module (`ray_head`, module-scoped) and leaves
it afterwards. setns() moves only the calling thread, and what that thread starts — the agent
threads of AgentThread, its run threads, the agent processes of AgentOutput — starts inside;
the rest of the suite, run before or after, never sees the namespace. (Running the agents under
`ip netns exec` instead would not reach AgentThread, an agent in this very process.)"""

import contextlib
import ctypes
import json
import os
import socket
import threading
import urllib.request
from urllib.parse import urlencode, urlsplit

import pytest

RAY_NETNS = os.environ.get("LAUNCHBAY_RAY_NETNS", "lbray")
RAY_ADDRESS = "http://127.0.0.1:8265"
CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


@contextlib.contextmanager
def network_namespace(name: str):
    """This thread (and what it starts meanwhile) inside the named network namespace."""
    assert threading.current_thread() is threading.main_thread()
    mine = f"/proc/self/task/{threading.get_native_id()}/ns/net"
    home = os.open(mine, os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    except FileNotFoundError:
        os.close(home)
        pytest.fail(
            f"no network namespace {name}: run scripts/services/ray.sh (or scripts/test.sh)"
        )
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
            # back where the rest of the suite runs (its servers on the host's loopback)
            assert os.stat(mine).st_ino == os.fstat(home).st_ino
    finally:
        os.close(target)
        os.close(home)


def head_answers(address: str = RAY_ADDRESS) -> bool:
    try:
        with urllib.request.urlopen(f"{address}/api/version", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def ray_head():
    """The Ray head's Jobs API address, this module's tests inside its namespace. Missing, it
    is a failure (never a skip): CI must have it."""
    with network_namespace(RAY_NETNS):
        if not head_answers():
            pytest.fail(f"no Ray head answers at {RAY_ADDRESS} in {RAY_NETNS}; run scripts/test.sh")
        yield RAY_ADDRESS


def ray_client():
    """A Jobs API client of the test head (for what the test itself does to a job)."""
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(RAY_ADDRESS)


class Forwarder:
    """A TCP forwarder to the head on a port of its own, in this namespace: the head as an
    agent sees it through `address`. stop() cuts every connection and closes the port (the
    head lost); start() again serves the same address (the head back)."""

    def __init__(self, head: str):

        parts = urlsplit(head)
        self._head = (parts.hostname, parts.port)
        with socket.socket() as probe:  # a free port, kept for every start
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.address = f"http://127.0.0.1:{self.port}"
        self._listener = None
        self._sockets: list = []
        self._lock = threading.Lock()

    def start(self) -> "Forwarder":

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:

        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for sock in ([listener] if listener else []) + sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener) -> None:

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self._head, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:

        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


def supervisor_resources(submission_id: str) -> dict:
    """What Ray reserved for a job's entry point: the resources of its JobSupervisor actor, as
    the State API lists them."""

    query = urlencode(
        {
            "detail": "true",
            "filter_keys": "name",
            "filter_predicates": "=",
            "filter_values": f"_ray_internal_job_actor_{submission_id}",
        }
    )
    with urllib.request.urlopen(f"{RAY_ADDRESS}/api/v0/actors?{query}", timeout=30) as answer:
        (actor,) = json.load(answer)["data"]["result"]["result"]
    return actor["required_resources"]


RAY_STATE = os.environ.get("LAUNCHBAY_RAY_STATE", "/var/lib/launchbay-test/ray")
JOB_EVENTS = f"{RAY_STATE}/tmp/session_latest/logs/events/event_JOBS.log"


def job_monitor_done(submission_id: str) -> bool:
    """Whether the head's job monitor has seen the job end (it logs the event last): before
    that, a job deleted is written back by the monitor, as failed."""
    try:
        with open(JOB_EVENTS, encoding="utf-8") as events:
            return f"Completed a ray job {submission_id} with" in events.read()
    except FileNotFoundError:
        return False

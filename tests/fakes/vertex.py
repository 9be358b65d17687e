"""A fake Vertex AI JobService (custom jobs) over TLS, for tests with the real aiplatform_v1 client.

    fake = FakeVertex()                            # jobs held RUNNING until release(name)
    fake.start()                                   # "127.0.0.1:PORT"; fake.ca_file: its cert
    os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = fake.ca_file  # before any secure channel
    client = JobServiceClient(credentials=AnonymousCredentials(),
                              client_options={"api_endpoint": fake.api_endpoint})
    ...
    fake.stop()

Why TLS: given `api_endpoint`, the client's gRPC transport always opens a secure channel with
gRPC's default root certificates. So the fake serves a self-signed certificate (SAN localhost
and 127.0.0.1) and the tests make gRPC trust it with GRPC_DEFAULT_SSL_ROOTS_FILE_PATH.

gRPC reads that file once per process, when the first secure channel with default roots is
made (grpcio 1.85, measured): pointing the variable elsewhere later, or rewriting the file,
changes nothing, and a channel made before the variable was set poisons the process. Hence the
certificate is made once per process and shared by every FakeVertex in it: set the variable
before the first secure channel and every fake of the process is trusted. Subprocesses inherit
os.environ (monkeypatch.setenv writes it) and read the file at their own first channel; the
file lives until this process exits. A bad trust setup shows up as ServiceUnavailable
("Ssl handshake failed"), the same exception as a real outage, so a retry loop hides it.

Behaviour, the real service's where it was cheap:
- CreateCustomJob keeps display_name, labels and job_spec as sent, names the job
  f"{parent}/customJobs/{n}" and queues it; INVALID_ARGUMENT for a bad parent, no display
  name, no worker pool, a first pool without image or machine type, or a label key/value
  that breaks Vertex's label rules.
- Each GetCustomJob moves an active job one step: PENDING, RUNNING, then it stays RUNNING until
  the test calls release(name): the Get after that shows SUCCEEDED. A test acts on a running job
  (cancel, fail, kill its agent) for as long as it needs, however slow the machine; when it
  wants the job to end, it says so. A job created while `hold` is False (a test that only waits
  for the end) is not held: its third Get shows SUCCEEDED. After fail() a job is FAILED, after a
  cancel CANCELLED (error code 1, as Vertex documents). ListCustomJobs and jobs() only look.
- CancelCustomJob: an active job becomes CANCELLING; an ended one is FAILED_PRECONDITION.
- Unknown job names are NOT_FOUND. DeleteCustomJob and everything else are UNIMPLEMENTED.
- Cloud Logging's LoggingServiceV2 is served on the same port (point the target's
  logging_endpoint at api_endpoint): ListLogEntries returns the entries of add_log_lines()
  whose job_id and `timestamp>=` match the filter, oldest first, page by page. Lines given to
  add_log_lines_at_end() appear when the job ends (just before its final state is readable).
"""

import atexit
import datetime
import functools
import ipaddress
import itertools
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.cloud.aiplatform_v1 import types
from google.cloud.logging_v2 import types as logging_types
from google.protobuf import empty_pb2, timestamp_pb2
from google.rpc import status_pb2

from .vertex_requests import Refused, parse_filter, validate

SERVICE = "google.cloud.aiplatform.v1.JobService"
LOGGING_SERVICE = "google.logging.v2.LoggingServiceV2"
LogEntry = logging_types.LogEntry
# The terms of a log filter that launchbay sends (joined with " AND ", others ignored).
LOG_JOB = re.compile(r'resource\.labels\.job_id="([^"]*)"')
LOG_SINCE = re.compile(r'timestamp>="([^"]*)"')
ListResponse = types.ListCustomJobsResponse
State = types.JobState
ACTIVE = frozenset({State.JOB_STATE_QUEUED, State.JOB_STATE_PENDING, State.JOB_STATE_RUNNING})
ENDED = frozenset({State.JOB_STATE_SUCCEEDED, State.JOB_STATE_FAILED, State.JOB_STATE_CANCELLED})


class _Empty:
    """google.protobuf.Empty with the proto-plus serialize() that the handlers use."""

    serialize = staticmethod(empty_pb2.Empty.SerializeToString)


@dataclass
class _Record:
    job: types.CustomJob
    held: bool  # stays RUNNING until release()
    failure: status_pb2.Status | None = None  # set by fail(): what the next Get shows


class FakeVertex:
    """Vertex AI's JobService for CustomJobs, served by grpc on 127.0.0.1 over TLS."""

    def __init__(self, *, hold: bool = True):
        # Read when a job is created: whether it stays RUNNING until release().
        self.hold = hold
        self.api_endpoint = ""
        self.ca_file = ""
        self.calls: list[tuple[str, str]] = []  # (method, job name or parent), in order
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        # One per upcoming faulty answer: (method, or None for any; status code, message).
        self._faults: list[tuple[str | None, grpc.StatusCode, str]] = []
        self._numbers = itertools.count(1)
        self._log_entries: list[tuple[str, int, LogEntry]] = []  # (job id, ns, entry)
        self._end_lines: dict[str, list[tuple[list[str], str]]] = {}
        self._last_log_ns = 0
        self._server: grpc.Server | None = None

    def start(self) -> str:
        """Serve on a free port; returns "127.0.0.1:PORT" (also self.api_endpoint)."""
        ca_file, cert, key = _tls_identity()
        methods = {
            "CreateCustomJob": (types.CreateCustomJobRequest, types.CustomJob, self._create),
            "GetCustomJob": (types.GetCustomJobRequest, types.CustomJob, self._get),
            "CancelCustomJob": (types.CancelCustomJobRequest, _Empty, self._cancel),
            "ListCustomJobs": (types.ListCustomJobsRequest, ListResponse, self._list),
        }
        handler = grpc.method_handlers_generic_handler(
            SERVICE, {method: self._rpc(method, *spec) for method, spec in methods.items()}
        )
        list_entries = (
            logging_types.ListLogEntriesRequest,
            logging_types.ListLogEntriesResponse,
            self._list_log_entries,
        )
        logging_handler = grpc.method_handlers_generic_handler(
            LOGGING_SERVICE, {"ListLogEntries": self._rpc("ListLogEntries", *list_entries)}
        )
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self._server.add_generic_rpc_handlers((handler, logging_handler))
        port = self._server.add_secure_port(
            "127.0.0.1:0", grpc.ssl_server_credentials([(key, cert)])
        )
        self._server.start()
        self.api_endpoint, self.ca_file = f"127.0.0.1:{port}", ca_file
        return self.api_endpoint

    def stop(self) -> None:
        """Stop serving; calls in flight are cut off."""
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None

    # -- controls for tests ------------------------------------------------------------------

    def fail(self, job_name: str, message: str, code: int = 13) -> None:
        """The next Get of this job shows JOB_STATE_FAILED with error {code, message}."""
        with self._lock:
            record = self._find_for_test(job_name)
            if record.job.state in ENDED:
                raise ValueError(f"{job_name} has already ended ({record.job.state.name})")
            record.failure = status_pb2.Status(code=code, message=message)

    def release(self, job_name: str) -> None:
        """The job's work is done: the next Get that finds it RUNNING shows SUCCEEDED (one still
        QUEUED or PENDING gets there through RUNNING, a step per Get)."""
        with self._lock:
            record = self._find_for_test(job_name)
            if record.job.state in ENDED:
                raise ValueError(f"{job_name} has already ended ({record.job.state.name})")
            record.held = False

    def unavailable(self, count: int, method: str | None = None) -> None:
        """The next `count` calls (of `method`, e.g. "GetCustomJob", or of any) are UNAVAILABLE."""
        self.refuse(count, method, grpc.StatusCode.UNAVAILABLE, "the service is unavailable")

    def refuse(self, count: int, method: str | None, code: grpc.StatusCode, message: str) -> None:
        """The next `count` calls (of `method`, or of any) end with status `code`."""
        with self._lock:
            self._faults.extend([(method, code, message)] * count)

    def forget(self, job_name: str) -> None:
        """The job vanishes: Get and Cancel answer NOT_FOUND, List no longer shows it."""
        with self._lock:
            del self._records[job_name]

    def add_log_lines(
        self, job_id: str, lines: list[str | dict], task: str = "workerpool0-0"
    ) -> None:
        """Log entries of the CustomJob numbered `job_id` (the last part of its name), as the
        job's container writes them: timestamps increasing, insert_ids unique. A str is a
        text payload; a dict a JSON payload (a structured log record)."""
        with self._lock:
            self._add_log_lines(job_id, lines, task)

    def add_log_lines_at_end(
        self, job_id: str, lines: list[str], task: str = "workerpool0-0"
    ) -> None:
        """Log entries that appear at the moment the job ends (its last words)."""
        with self._lock:
            self._end_lines.setdefault(job_id, []).append((list(lines), task))

    def jobs(self) -> list[types.CustomJob]:
        """Copies of the stored jobs, oldest first (looking does not advance them)."""
        with self._lock:
            return [types.CustomJob(record.job) for record in self._records.values()]

    # -- the service ---------------------------------------------------------------------------

    def _rpc(self, method: str, request_type, response_type, behaviour: Callable):
        """A unary handler: records the call, injects faults, runs `behaviour` under the lock
        and turns Refused into an error status."""
        fields = request_type.meta.fields
        target = next(f for f in ("parent", "name", "resource_names") if f in fields)

        def handle(request, context: grpc.ServicerContext):
            fault = self._called(method, str(getattr(request, target)))
            if fault is not None:
                context.abort(*fault)
            try:
                with self._lock:
                    return behaviour(request)
            except Refused as refusal:
                context.abort(refusal.code, refusal.message)

        return grpc.unary_unary_rpc_method_handler(
            handle,
            request_deserializer=request_type.deserialize,
            response_serializer=response_type.serialize,
        )

    def _called(self, method: str, target: str) -> tuple[grpc.StatusCode, str] | None:
        """Record a call; the (code, message) of a fault that is to answer it, if any."""
        with self._lock:
            self.calls.append((method, target))
            for index, (faulty, code, message) in enumerate(self._faults):
                if faulty in (None, method):
                    del self._faults[index]
                    return code, message
            return None

    def _create(self, request: types.CreateCustomJobRequest) -> types.CustomJob:
        validate(request)
        job = types.CustomJob(request.custom_job)
        # Output-only fields are the service's to fill, whatever the caller sent.
        for output_only in ("state", "start_time", "end_time", "error", "web_access_uris"):
            delattr(job, output_only)
        now = _now()
        job.name = f"{request.parent}/customJobs/{next(self._numbers)}"
        job.state = State.JOB_STATE_QUEUED
        job.create_time = job.update_time = now
        self._records[job.name] = _Record(job, held=self.hold)
        return types.CustomJob(job)

    def _get(self, request: types.GetCustomJobRequest) -> types.CustomJob:
        record = self._find(request.name)
        self._advance(record)
        return types.CustomJob(record.job)

    def _cancel(self, request: types.CancelCustomJobRequest) -> empty_pb2.Empty:
        job = self._find(request.name).job
        if job.state in ENDED:
            raise Refused(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"CustomJob {job.name} is in state {job.state.name} and cannot be cancelled.",
            )
        if job.state in ACTIVE:  # cancelling twice is not an error
            self._move(job, State.JOB_STATE_CANCELLING)
        return empty_pb2.Empty()

    def _list(self, request: types.ListCustomJobsRequest) -> ListResponse:
        wanted = parse_filter(request.filter)
        prefix = f"{request.parent}/customJobs/"
        found = [
            types.CustomJob(r.job)
            for name, r in self._records.items()
            if name.startswith(prefix) and all(test(r.job) for test in wanted)
        ]
        if request.page_token and not request.page_token.isdigit():
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "Invalid page_token.")
        start = int(request.page_token or 0)
        end = start + request.page_size if request.page_size > 0 else len(found)
        next_token = str(end) if end < len(found) else ""
        return ListResponse(custom_jobs=found[start:end], next_page_token=next_token)

    def _list_log_entries(
        self, request: logging_types.ListLogEntriesRequest
    ) -> logging_types.ListLogEntriesResponse:
        job = LOG_JOB.search(request.filter)
        since = LOG_SINCE.search(request.filter)
        if job is None or request.order_by != "timestamp asc":
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                'the fake knows filters on resource.labels.job_id="N", ordered "timestamp asc"',
            )
        start_ns = 0
        if since is not None:
            stamp = timestamp_pb2.Timestamp()
            stamp.FromJsonString(since.group(1))
            start_ns = stamp.ToNanoseconds()
        found = [
            LogEntry(entry)
            for job_id, at, entry in sorted(self._log_entries, key=lambda e: e[1])
            if job_id == job.group(1) and at >= start_ns
        ]
        start = int(request.page_token or 0)
        end = start + request.page_size if request.page_size > 0 else len(found)
        return logging_types.ListLogEntriesResponse(
            entries=found[start:end], next_page_token=str(end) if end < len(found) else ""
        )

    def _add_log_lines(self, job_id: str, lines: list[str | dict], task: str) -> None:
        for line in lines:
            at = self._last_log_ns = max(_now_ns(), self._last_log_ns + 1000)
            stamp = timestamp_pb2.Timestamp()
            stamp.FromNanoseconds(at)
            payload = {"json_payload": line} if isinstance(line, dict) else {"text_payload": line}
            entry = LogEntry(
                log_name="projects/launchbay-test/logs/workerpool0-0",
                insert_id=f"{at:x}",
                labels={"task_name": task},
                **payload,
            )
            LogEntry.pb(entry).timestamp.CopyFrom(stamp)
            LogEntry.pb(entry).resource.type = "ml_job"
            LogEntry.pb(entry).resource.labels["job_id"] = job_id
            self._log_entries.append((job_id, at, entry))

    def _find_for_test(self, name: str) -> _Record:
        if name not in self._records:
            raise KeyError(f"no CustomJob named {name!r}; the fake has {list(self._records)}")
        return self._records[name]

    def _find(self, name: str) -> _Record:
        if name not in self._records:
            raise Refused(grpc.StatusCode.NOT_FOUND, f"The CustomJob {name} does not exist.")
        return self._records[name]

    def _advance(self, record: _Record) -> None:
        """One Get's worth of progress. A job ends when the test says so (fail, release,
        cancel), never by the clock: only its way up to RUNNING is counted in Gets."""
        job = record.job
        if job.state in ENDED:
            return
        if record.failure is not None:
            self._move(job, State.JOB_STATE_FAILED, record.failure)
        elif job.state == State.JOB_STATE_CANCELLING:
            # What Vertex documents for a cancelled job: error code 1 (CANCELLED).
            self._move(
                job, State.JOB_STATE_CANCELLED, status_pb2.Status(code=1, message="CANCELED")
            )
        elif job.state == State.JOB_STATE_QUEUED:
            self._move(job, State.JOB_STATE_PENDING)
        elif job.state == State.JOB_STATE_PENDING:
            self._move(job, State.JOB_STATE_RUNNING)
        elif not record.held:
            self._move(job, State.JOB_STATE_SUCCEEDED)

    def _move(
        self, job: types.CustomJob, state: State, error: status_pb2.Status | None = None
    ) -> None:
        if state in ENDED:
            job_id = job.name.rsplit("/", 1)[-1]
            for lines, task in self._end_lines.pop(job_id, []):
                self._add_log_lines(job_id, lines, task)
        now = _now()
        job.state = state
        job.update_time = now
        ran = state in (State.JOB_STATE_RUNNING, State.JOB_STATE_SUCCEEDED)
        if ran and not types.CustomJob.pb(job).HasField("start_time"):
            job.start_time = now
        if state in ENDED:
            job.end_time = now
        if error is not None:
            job.error = error


def _now_ns() -> int:
    return time.time_ns()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@functools.cache
def _tls_identity() -> tuple[str, bytes, bytes]:
    """(cert file, cert PEM, key PEM): one self-signed identity per process, see the docstring."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "launchbay fake vertex")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    folder = Path(tempfile.mkdtemp(prefix="launchbay-fake-vertex-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (folder / "ca.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(key_pem)
    return str(folder / "ca.pem"), cert_pem, key_pem

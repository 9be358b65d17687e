"""Following a CustomJob's Cloud Logging entries (resource.type="ml_job",
resource.labels.job_id) into the run's log.

Cloud Logging has no push for a reader: the entries are listed every few seconds, oldest first,
from a cursor kept in a file beside the log, so a restarted agent goes on where the last one
stopped. Entries can reach Cloud Logging a little after later ones, so each read looks back
LATE_ENTRIES_SECONDS before the newest entry written, and the insert_ids already written in
that window are skipped: no line twice, none lost to the lag. The cursor keeps the log's size
too: a page copied but not recorded by an agent killed in between is not copied twice (see
runners.runlog.cursor), unless an entry arrived late into that page. With more than one replica
in all, each line is prefixed with the task it came from.

google-cloud-logging is imported in the follower's thread (through runners.targets.vertex.sdk),
never at import: launch checks and dry runs must not load it.
"""

import json
import os
import time
from pathlib import Path

from runners.runlog.cursor import UnrecordedCopy
from runners.runlog.logfile import open_append
from runners.system.files import write_private
from runners.targets.remote import PollingFollower
from runners.targets.vertex import sdk

CURSOR_FILE = "cloud_logging_cursor.json"
LATE_ENTRIES_SECONDS = 10  # how far back each read looks for entries that arrived late
LAST_READ_PAUSE_SECONDS = 5.0  # after the job's end: entries lag it a little
RETRY_SECONDS = 60.0  # one read, retried while UNAVAILABLE; then the next poll tries again
LAST_RETRY_SECONDS = 4.0  # the last read's retries: the runner waits for it, bounded
CALL_TIMEOUT_SECONDS = 30.0
PAGE_SIZE = 1000
NANOS = 1_000_000_000


class CloudLoggingFollower(PollingFollower):
    def __init__(
        self,
        *,
        project: str,
        job_id: str,
        credentials: str,
        endpoint: str | None,
        log_path: Path,
        run_dir: Path,
        every: float,
        replicas: int = 1,
    ):
        super().__init__(
            f"launchbay-cloud-logging-{job_id[-8:]}",
            log_path=log_path,
            cursor_path=run_dir / CURSOR_FILE,
            every=every,
            machines=replicas,
        )
        self._project = project
        self._job_id = job_id
        self._credentials = credentials
        self._endpoint = endpoint

    def follow(self) -> None:
        """List the new entries every few seconds; once the job has ended, once more after a
        pause (entries lag it a little)."""
        fd = open_append(self._log_path)
        client = None
        try:
            client = self._connect()
            cursor = _read_cursor(self._cursor_path)
            self._unrecorded = UnrecordedCopy(self._log_path, cursor["log_size"])
            if cursor["log_size"] is None:  # the first start: the log's size before any line
                cursor["log_size"] = os.fstat(fd).st_size
                _write_cursor(self._cursor_path, cursor)
            while True:
                ended = self.job_ended.is_set()
                try:
                    self._read(client, cursor, fd, LAST_RETRY_SECONDS if ended else RETRY_SECONDS)
                    self._unrecorded.forget()
                except sdk.api_exceptions.RetryError as exc:
                    if ended:  # the last read: say what may be missing
                        _note(fd, f"could not read the job's last Cloud Logging entries: {exc}")
                        return
                if ended:
                    time.sleep(min(self._every, LAST_READ_PAUSE_SECONDS))
                    try:
                        self._read(client, cursor, fd, LAST_RETRY_SECONDS)
                    except sdk.api_exceptions.RetryError as exc:
                        _note(fd, f"could not read the job's last Cloud Logging entries: {exc}")
                    return
                self.job_ended.wait(self._every)
        except (sdk.api_exceptions.GoogleAPICallError, sdk.auth_exceptions.GoogleAuthError) as exc:
            # Permission denied, a bad filter, no credentials: retrying would not help.
            _note(fd, f"stopped following this job's Cloud Logging entries: {sdk.describe(exc)}")
        finally:
            if client is not None:
                client.transport.close()
            os.close(fd)

    def _connect(self):
        options = {"api_endpoint": self._endpoint} if self._endpoint else None
        return sdk.logging_service.LoggingServiceV2Client(
            credentials=sdk.credentials(self._credentials), client_options=options
        )

    def _read(self, client, cursor: dict, fd: int, retry_seconds: float) -> None:
        """Write the entries not written yet, oldest first; the cursor moves page by page."""
        since = _timestamp_text(max(cursor["newest"] - LATE_ENTRIES_SECONDS * NANOS, 0))
        request = {
            "resource_names": [f"projects/{self._project}"],
            "filter": (
                f'resource.type="ml_job" AND resource.labels.job_id="{self._job_id}"'
                f' AND timestamp>="{since}"'
            ),
            "order_by": "timestamp asc",
            "page_size": PAGE_SIZE,
        }
        pager = client.list_log_entries(
            request=request,
            retry=sdk.retry(retry_seconds, sdk.api_exceptions.ResourceExhausted),
            timeout=CALL_TIMEOUT_SECONDS,
        )
        seen = cursor["seen"]
        for page in pager.pages:
            lines = []
            for entry in page.entries:
                if entry.insert_id in seen:
                    continue
                stamp = sdk.logging_types.LogEntry.pb(entry).timestamp
                at = stamp.seconds * NANOS + stamp.nanos
                seen[entry.insert_id] = at
                cursor["newest"] = max(cursor["newest"], at)
                text = self._line(entry)
                if text is not None:
                    lines.append(text)
            text = self._unrecorded.less_copied("".join(lines).encode())
            if text:
                os.write(fd, text)
            oldest_kept = cursor["newest"] - LATE_ENTRIES_SECONDS * NANOS
            cursor["seen"] = seen = {k: at for k, at in seen.items() if at >= oldest_kept}
            cursor["log_size"] = os.fstat(fd).st_size
            _write_cursor(self._cursor_path, cursor)

    def _line(self, entry) -> str | None:
        payload = entry.json_payload or {}  # None when the entry has no JSON payload
        if entry.text_payload:
            text = entry.text_payload
        elif "message" in payload:
            text = str(payload["message"])
        else:
            return None  # no text to show (an audit entry, a structured record)
        if self._prefix_lines:
            task = entry.labels.get("task_name") or entry.labels.get(
                "ml.googleapis.com/task_name", "replica"
            )
            text = f"[{task}] {text}"
        return text.rstrip("\n") + "\n"


def _timestamp_text(at: int) -> str:
    return sdk.timestamp_pb2.Timestamp(seconds=at // NANOS, nanos=at % NANOS).ToJsonString()


def _note(fd: int, text: str) -> None:
    os.write(fd, f"[launchbay] {text}\n".encode())


def _write_cursor(path: Path, cursor: dict) -> None:
    """Replaced whole, never truncated in place: an agent killed mid-write must not make the
    next one copy the job's entries again from the start."""
    temporary = path.with_suffix(".tmp")
    write_private(temporary, json.dumps(cursor))
    os.replace(temporary, path)


def _read_cursor(path: Path) -> dict:
    """{"newest": the newest entry written (ns since the epoch), "seen": {insert_id: ns},
    "log_size": the log's size when it was written (None in a cursor from before it was kept)}."""
    try:
        cursor = json.loads(path.read_text())
        return {
            "newest": int(cursor["newest"]),
            "seen": dict(cursor["seen"]),
            "log_size": cursor.get("log_size"),
        }
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return {"newest": 0, "seen": {}, "log_size": None}

"""Following a training job's CloudWatch streams (`/aws/sagemaker/TrainingJobs`,
`<job>/algo-N-…`) into the run's log.

CloudWatch has no push: the streams are read every few seconds with each stream's forward
token, kept in a file beside the log so a restarted agent goes on where the last one stopped
(with the log's size then: a page copied but not recorded is not copied twice, see
runners.runlog.cursor).
With several instances, each line is prefixed with the instance it came from.
"""

import contextlib
import json
import os
import threading
from pathlib import Path

from runners.runlog.cursor import UnrecordedCopy
from runners.runlog.logfile import open_append
from runners.system.files import write_private
from runners.targets.remote import PollingFollower

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
LATE_LINES_SECONDS = 5.0


class CloudWatchFollower(PollingFollower):
    def __init__(
        self,
        logs_client,
        job_name: str,
        log_path: Path,
        run_dir: Path,
        every: float,
        instances: int = 1,
    ):
        super().__init__(
            f"launchbay-cloudwatch-{job_name[-8:]}",
            log_path=log_path,
            cursor_path=run_dir / "cloudwatch_tokens.json",
            every=every,
            machines=instances,
        )
        self._logs = logs_client
        self._job_name = job_name
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def follow(self) -> None:
        """Read the streams every few seconds; once the job has ended, once more after a
        pause (CloudWatch lags it a little)."""
        tokens, log_size = _read_tokens(self._cursor_path)
        fd = open_append(self._log_path)
        if log_size is None:  # the first start: the log's size before any line is copied
            _write_tokens(self._cursor_path, tokens, os.fstat(fd).st_size)
        self._unrecorded = UnrecordedCopy(self._log_path, log_size)
        try:
            while not self._stop.is_set():
                ended = self.job_ended.is_set()
                try:
                    self._read_all(tokens, fd)
                    self._unrecorded.forget()
                except Exception as exc:  # throttled past the retries, the endpoint away
                    if ended:  # the last read: say what may be missing
                        note = f"[launchbay] could not read the last CloudWatch lines: {exc}\n"
                        os.write(fd, note.encode())
                if ended:
                    # CloudWatch lags the job's end a little: read once more after a pause.
                    self._stop.wait(min(self._every, LATE_LINES_SECONDS))
                    with contextlib.suppress(Exception):
                        self._read_all(tokens, fd)
                    return
                self.job_ended.wait(self._every)
        finally:
            os.close(fd)

    def _read_all(self, tokens: dict, fd: int) -> None:
        for stream in self._streams():
            while True:
                request = {
                    "logGroupName": LOG_GROUP,
                    "logStreamName": stream,
                    "startFromHead": True,
                }
                if stream in tokens:
                    request["nextToken"] = tokens[stream]
                page = self._logs.get_log_events(**request)
                events = page.get("events") or []
                host = stream.split("/", 1)[-1]
                text = "".join(
                    (f"[{host}] " if self._prefix_lines else "") + e["message"].rstrip("\n") + "\n"
                    for e in events
                )
                text = self._unrecorded.less_copied(text.encode())
                if text:
                    os.write(fd, text)
                # The forward token stays the same once the stream has nothing more.
                unchanged = page.get("nextForwardToken") == tokens.get(stream)
                tokens[stream] = page.get("nextForwardToken")
                _write_tokens(self._cursor_path, tokens, os.fstat(fd).st_size)
                if unchanged or not events:
                    break

    def _streams(self) -> list[str]:
        names, token = [], None
        while True:
            request = {"logGroupName": LOG_GROUP, "logStreamNamePrefix": f"{self._job_name}/"}
            if token:
                request["nextToken"] = token
            try:
                page = self._logs.describe_log_streams(**request)
            except self._logs.exceptions.ResourceNotFoundException:
                return []  # the group appears with the first instance's first line
            names += [s["logStreamName"] for s in page.get("logStreams") or []]
            token = page.get("nextToken")
            if not token:
                return sorted(names)


def _write_tokens(path: Path, tokens: dict, log_size: int) -> None:
    """Replaced whole, never truncated in place: an agent killed mid-write must not make the
    next one copy every stream again from the start."""
    temporary = path.with_suffix(".tmp")
    write_private(temporary, json.dumps({"tokens": tokens, "log_size": log_size}))
    os.replace(temporary, path)


def _read_tokens(path: Path) -> tuple[dict, int | None]:
    """({stream: forward token}, the log's size when they were written)."""
    try:
        cursor = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}, None
    if "tokens" not in cursor:  # written before the log's size was kept: tokens alone
        return cursor, None
    return cursor["tokens"], cursor.get("log_size")

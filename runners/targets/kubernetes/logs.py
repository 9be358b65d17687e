"""Following one kubernetes run: watches on its Job and pods, and its pods' logs into the run's
log, carrying on across pod restarts and agent restarts (see runners.runlog.cursor)."""

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from runners.protocol import RunStatus
from runners.runlog.cursor import LogCopier, stamp_seconds
from runners.runlog.logfile import open_append
from runners.targets.kubernetes import sdk
from runners.targets.kubernetes.manifest import LABEL_RUN_ID
from runners.targets.kubernetes.status import Observed, derive
from runners.targets.kubernetes.watch import ResourceWatch, is_transient, list_raw
from runners.targets.remote import FollowerThread


class RunFollower:
    """What the cluster says of one run, kept current by two watches; `wait` blocks until it
    changes. Also follows the logs."""

    def __init__(self, apis, handle: dict):
        self.handle = handle
        self.seen = Observed()
        self.error: str | None = None  # a lasting API error (403), shown as the run's message
        self.error_status: int | None = None
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._apis = apis
        namespace, run_id = handle["namespace"], handle["run_id"]
        self._pod_watch = ResourceWatch(
            f"launchbay-pods-{run_id}",
            apis.core.list_namespaced_pod,
            {"namespace": namespace, "label_selector": f"{LABEL_RUN_ID}={run_id}"},
            on_list=self._pods_listed,
            on_event=self._pod_event,
            on_error=self._failed,
            stop=self._stop,
        )
        self._job_watch = ResourceWatch(
            f"launchbay-job-{run_id}",
            *apis.object_list_call(handle),
            on_list=self._jobs_listed,
            on_event=self._job_event,
            on_error=self._failed,
            stop=self._stop,
        )
        self.logs = PodLogs(self, apis.core, handle)

    def start(self) -> "RunFollower":
        self._pod_watch.start()
        self._job_watch.start()
        self.logs.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._notify()

    @property
    def done(self) -> threading.Event:
        """Set once the pods' logs are copied (the follower's log side has stopped)."""
        return self.logs.done

    def finish(self) -> None:
        """The run has ended: copy the pods' last lines; the watches go on until stop()."""
        self.logs.finish()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def status(self, pull_grace: float) -> RunStatus:
        with self._changed:
            return derive(
                self.seen, now=time.time(), pull_grace=pull_grace, batch_job=self.handle["batch"]
            )

    def wait(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def refresh_pods(self) -> None:
        """Read the run's pods now, not waiting for the watch."""
        try:
            listing = list_raw(
                self._apis.core.list_namespaced_pod,
                namespace=self.handle["namespace"],
                label_selector=f"{LABEL_RUN_ID}={self.handle['run_id']}",
            )
        except Exception:
            return  # the watch will tell, later
        with self._changed:
            for pod in listing.get("items") or []:
                self.seen.pods[pod["metadata"]["name"]] = pod

    def pods(self) -> list[dict]:
        with self._changed:
            return sorted(
                self.seen.pods.values(), key=lambda p: p["metadata"].get("creationTimestamp", "")
            )

    # -- watch callbacks (watch threads) -------------------------------------------------------

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _pods_listed(self, pods: list[dict]) -> None:
        with self._changed:
            self.seen.pods = {p["metadata"]["name"]: p for p in pods}
            self.error = self.error_status = None
            self._changed.notify_all()

    def _pod_event(self, kind: str, pod: dict) -> None:
        with self._changed:
            name = pod["metadata"]["name"]
            if kind == "DELETED":
                # A deleted pod keeps its last status for the record (how the run ended).
                self.seen.pods.setdefault(name, pod)
            else:
                self.seen.pods[name] = pod
            self._changed.notify_all()

    def _jobs_listed(self, jobs: list[dict]) -> None:
        with self._changed:
            if jobs:
                self.seen.job = jobs[0]
            elif self.seen.job is not None or self.handle.get("created"):
                self.seen.job_deleted = True
            self.error = self.error_status = None
            self._changed.notify_all()

    def _job_event(self, kind: str, job: dict) -> None:
        with self._changed:
            if kind == "DELETED":
                self.seen.job_deleted = True
            else:
                self.seen.job = job
            self._changed.notify_all()

    def _failed(self, exc: Exception) -> None:
        with self._changed:
            self.error = api_message(exc)
            self.error_status = getattr(exc, "status", None)
            self._changed.notify_all()


# How long the run's end waits for the copies under way. A pod that has ended ends its stream
# at once; one still running (a retry beside a preempted pod) would keep it open for as long
# as it runs, and the runner waits LOG_DRAIN_SECONDS (15) in all.
FINAL_WAIT_SECONDS = 5.0


class PodLogs(FollowerThread):
    """Copies the run's pods' logs into the run's log, each started pod by a thread of its own,
    so pods running side by side (parallelism, a JobSet's workers, a retry beside its
    predecessor) all reach the log as they print. This object's thread starts the passes."""

    def __init__(self, follower: RunFollower, core, handle: dict):
        super().__init__(f"launchbay-podlogs-{handle['run_id']}")
        self._follower = follower
        self._core = core
        self._handle = handle
        self._copies: dict[str, PodCopy] = {}  # by pod name
        # A lasting error (403 on pods/log) or a bug, from any copy: no pass starts after it.
        # Two at once may race to set it; either is worth the one note.
        self._error: Exception | None = None

    def follow(self) -> None:
        try:
            while not self._follower.stopped and self._error is None:
                if self.job_ended.is_set():
                    self._last_pass()
                    return
                for pod in self._started_pods():
                    copy = self._copy_of(pod)
                    if not copy.complete:  # a copy under way is left to it (start says no)
                        copy.start(partial(self._copy_pass, pod, follow=_phase(pod) == "Running"))
                self._follower.wait(1.0)
        except Exception as exc:  # a bug: say so in the log
            self._error = exc
        finally:
            if self._error is not None:
                self._note(f"stopped copying the pods' logs: {api_message(self._error)}")
            for copy in self._copies.values():
                copy.retire()

    def _last_pass(self) -> None:
        """Once the run has ended: the copies under way finish (for a while), then every
        started pod not read to its end yet is read once more, not followed, all at once, so
        their last lines are in."""
        self._follower.refresh_pods()  # the pods' watch may lag the Job's
        self._wait_for_copies()
        for pod in self._started_pods():
            copy = self._copy_of(pod)
            if not copy.complete:  # a copy still following a pod that runs on says no
                copy.start(partial(self._copy_pass, pod, follow=False))
        self._wait_for_copies()

    def _wait_for_copies(self) -> None:
        deadline = time.monotonic() + FINAL_WAIT_SECONDS
        for copy in list(self._copies.values()):
            copy.wait(max(0.0, deadline - time.monotonic()))

    def _copy_of(self, pod: dict) -> "PodCopy":
        name = pod["metadata"]["name"]
        if name not in self._copies:
            cursor = Path(self._handle["run_dir"]) / f"log_cursor.{name}"
            self._copies[name] = PodCopy(name, LogCopier(Path(self._handle["log"]), cursor))
        return self._copies[name]

    def _started_pods(self) -> list[dict]:
        started = []
        for pod in self._follower.pods():
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            if statuses and any(
                s.get("state", {}).get(k) for s in statuses for k in ("running", "terminated")
            ):
                started.append(pod)
        return started

    def _copy_pass(self, pod: dict, copier: LogCopier, *, follow: bool) -> None:
        try:
            read_to_end = self._copy(pod, copier, follow=follow)
        except Exception as exc:  # not allowed to read logs (403), or a bug
            self._error = exc
            return
        if read_to_end and _phase(pod) in ("Succeeded", "Failed"):
            # The pod had ended before this read began: its log has nothing more to give.
            self._copies[pod["metadata"]["name"]].complete = True

    def _copy(self, pod: dict, copier: LogCopier, *, follow: bool) -> bool:
        """Copy the pod's output since the cursor, following it if asked; whether the log was
        read to its end (not cut short by an error)."""
        name = pod["metadata"]["name"]
        container = pod["spec"]["containers"][0]["name"]
        since = None
        if copier.cursor:
            since = max(1, int(time.time() - stamp_seconds(copier.cursor)) + 2)
        try:
            response = self._core.read_namespaced_pod_log(
                name,
                self._handle["namespace"],
                container=container,
                follow=follow,
                timestamps=True,
                since_seconds=since,
                _preload_content=False,
            )
        except sdk.exceptions.ApiException as exc:
            if exc.status in (400, 404) or is_transient(exc):
                return False  # not started yet, or gone: the next pass sees
            raise
        except Exception as exc:
            if is_transient(exc):
                return False
            raise
        try:
            pending = b""
            for chunk in response.stream(65536, decode_content=False):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    copier.write(line + b"\n")
            if pending:
                copier.write(pending + b"\n")
        except Exception:
            return False  # the stream dropped: the next pass resumes from the cursor
        finally:
            response.release_conn()
        return True

    def _note(self, text: str) -> None:
        with contextlib.suppress(OSError):
            fd = open_append(Path(self._handle["log"]))
            os.write(fd, f"[launchbay] {text}\n".encode())
            os.close(fd)


class PodCopy:
    """One pod's cursor, and the thread copying into it now: one at a time, as a cursor has
    one writer."""

    def __init__(self, pod_name: str, copier: LogCopier):
        self.copier = copier
        self.complete = False  # read to its end after the pod ended: no more passes needed
        self._pod_name = pod_name
        self._lock = threading.Lock()  # orders the end of a copy against retire()
        self._copying = False
        self._retired = False
        self._thread: threading.Thread | None = None

    def start(self, copy: Callable[[LogCopier], None]) -> None:
        """Run `copy(copier)` in a new thread, unless the last one is still at it."""
        with self._lock:
            if self._copying or self._retired:
                return
            self._copying = True
        self._thread = threading.Thread(
            target=self._run, args=(copy,), name=f"launchbay-podlog-{self._pod_name}", daemon=True
        )
        self._thread.start()

    def _run(self, copy: Callable[[LogCopier], None]) -> None:
        try:
            copy(self.copier)
        finally:
            with self._lock:
                self._copying = False
                if self._retired:  # retired while copying: closing was left to this thread
                    self.copier.close()

    def wait(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def retire(self) -> None:
        """No more copies: the cursor is closed now, or by the copy under way as it ends."""
        with self._lock:
            self._retired = True
            if not self._copying:
                self.copier.close()


def _phase(pod: dict) -> str | None:
    return (pod.get("status") or {}).get("phase")


def api_message(exc: Exception) -> str:
    """The message of a Status object the API sent, or the exception's own words."""
    body = getattr(exc, "body", None)
    if body:
        try:
            status = json.loads(body)
            return f"{status.get('code', '')} {status.get('reason', '')}: {status.get('message')}"
        except (ValueError, AttributeError):
            pass
    return f"{type(exc).__name__}: {exc}"

"""Following one kubernetes run: watches on its Job and pods, and its pods' logs into the run's
log, carrying on across pod restarts and agent restarts (see log_cursor)."""

import contextlib
import json
import os
import threading
import time
from pathlib import Path

from .kube_manifest import LABEL_RUN_ID
from .kube_status import Observed, derive
from .kube_watch import ResourceWatch, is_transient, list_raw
from .log_cursor import LogCopier, stamp_seconds
from .logfile import open_append
from .protocol import RunStatus


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


class PodLogs:
    """A thread copying the logs of the run's pods, one after another, into the run's log."""

    def __init__(self, follower: RunFollower, core, handle: dict):
        self._follower = follower
        self._core = core
        self._handle = handle
        self.done = threading.Event()
        self.run_ended = threading.Event()  # set by the runner once the run's end is known
        self._thread = threading.Thread(
            target=self._run, name=f"launchbay-podlogs-{handle['run_id']}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        run_dir = Path(self._handle["run_dir"])
        copiers: dict[str, LogCopier] = {}  # a cursor per pod: pods print side by side
        try:
            while not self._follower.stopped:
                ended = self.run_ended.is_set()
                if ended:
                    self._follower.refresh_pods()  # the pods' watch may lag the Job's
                for pod in self._started_pods():
                    name = pod["metadata"]["name"]
                    if name not in copiers:
                        copiers[name] = LogCopier(
                            Path(self._handle["log"]), run_dir / f"log_cursor.{name}"
                        )
                    self._copy(pod, copiers[name])
                if ended:
                    return  # every pod's output was copied after the run's end was known
                self._follower.wait(1.0)
        except Exception as exc:  # not allowed to read logs (403), or a bug: say so in the log
            note = f"[launchbay] stopped copying the pods' logs: {api_message(exc)}\n"
            with contextlib.suppress(OSError):
                fd = open_append(Path(self._handle["log"]))
                os.write(fd, note.encode())
                os.close(fd)
        finally:
            for copier in copiers.values():
                copier.close()
            self.done.set()

    def _started_pods(self) -> list[dict]:
        started = []
        for pod in self._follower.pods():
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            if statuses and any(
                s.get("state", {}).get(k) for s in statuses for k in ("running", "terminated")
            ):
                started.append(pod)
        return started

    def _copy(self, pod: dict, copier: LogCopier) -> None:
        """Copy the pod's output since the cursor; follows it while it runs."""
        from kubernetes.client.exceptions import ApiException

        name = pod["metadata"]["name"]
        container = pod["spec"]["containers"][0]["name"]
        since = None
        if copier.cursor:
            since = max(1, int(time.time() - stamp_seconds(copier.cursor)) + 2)
        running = (pod.get("status") or {}).get("phase") == "Running"
        try:
            response = self._core.read_namespaced_pod_log(
                name,
                self._handle["namespace"],
                container=container,
                follow=running,
                timestamps=True,
                since_seconds=since,
                _preload_content=False,
            )
        except ApiException as exc:
            if exc.status in (400, 404) or is_transient(exc):
                return  # not started yet, or gone: the next pass sees
            raise
        except Exception as exc:
            if is_transient(exc):
                return
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
            pass  # the stream dropped: the next pass resumes from the cursor
        finally:
            response.release_conn()


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

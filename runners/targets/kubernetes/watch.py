"""Following a Kubernetes list endpoint through watch streams, for as long as a run lives.

List once, then watch from the list's resourceVersion; when a stream ends or drops, resume from
the last version seen; when the server says that version is too old (410 Gone), list again.
A 5xx, a 429 or a dropped connection is retried with backoff, so a flaky API server delays
what the run sees but never loses its end.
"""

import json
import threading
from collections.abc import Callable

from runners.targets.kubernetes import sdk
from runners.targets.remote import Backoff

WATCH_SECONDS = 30  # each stream's timeoutSeconds: also how long a stopped watch may linger
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 10.0
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_transient(exc: Exception) -> bool:
    """An error worth retrying: the server busy or broken for now, or the connection lost."""
    status = getattr(exc, "status", None)
    if status is not None and status != 0:
        return status in RETRIED_STATUSES
    # Not ValueError: the client's own model validation raises those, and they don't pass.
    return isinstance(exc, OSError) or type(exc).__module__.startswith("urllib3")


def call_with_retry(call: Callable, *args, attempts: int = 6, **kwargs):
    """One API call, retried with backoff while its error is transient."""
    backoff = Backoff(BACKOFF_FIRST, BACKOFF_MAX)
    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            if attempt == attempts - 1 or not is_transient(exc):
                raise
            backoff.sleep()
    raise AssertionError("unreachable")


def list_raw(list_call: Callable, **kwargs) -> dict:
    """A list call's JSON as sent (plain dicts: no model objects to convert back)."""
    response = call_with_retry(list_call, _preload_content=False, _request_timeout=30, **kwargs)
    return json.loads(response.data)


class ResourceWatch:
    """A thread keeping `on_list` / `on_event` informed of one list endpoint's objects."""

    def __init__(
        self,
        name: str,
        list_call: Callable,
        kwargs: dict,
        *,
        on_list: Callable[[list[dict]], None],
        on_event: Callable[[str, dict], None],
        on_error: Callable[[Exception], None],
        stop: threading.Event,
    ):
        self._list_call = list_call
        self._kwargs = kwargs
        self._on_list = on_list
        self._on_event = on_event
        self._on_error = on_error
        self._stop = stop
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "ResourceWatch":
        self._thread.start()
        return self

    def _run(self) -> None:
        version = None
        backoff = Backoff(BACKOFF_FIRST, BACKOFF_MAX, self._stop)
        while not self._stop.is_set():
            try:
                if version is None:
                    listing = list_raw(self._list_call, **self._kwargs)
                    version = listing["metadata"].get("resourceVersion")
                    self._on_list(listing.get("items") or [])
                stream = sdk.watch.Watch().stream(
                    self._list_call,
                    resource_version=version,
                    timeout_seconds=WATCH_SECONDS,
                    # A half-open connection must not freeze the run in its last state.
                    _request_timeout=(10, WATCH_SECONDS + 15),
                    **self._kwargs,
                )
                for event in stream:
                    if self._stop.is_set():
                        return
                    raw = event["raw_object"]
                    if event["type"] == "ERROR":
                        if raw.get("code") == 410:
                            version = None  # too old: list again
                            break
                        raise sdk.exceptions.ApiException(
                            status=raw.get("code"), reason=raw.get("message")
                        )
                    version = raw.get("metadata", {}).get("resourceVersion") or version
                    self._on_event(event["type"], raw)
                backoff.reset()
            except sdk.exceptions.ApiException as exc:
                if exc.status == 410:
                    version = None
                    continue
                if not is_transient(exc):
                    self._on_error(exc)
                backoff.sleep()
            except Exception as exc:  # a dropped connection, a truncated chunk
                if not is_transient(exc):
                    self._on_error(exc)
                backoff.sleep()

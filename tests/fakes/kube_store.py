"""The fake API server's storage: objects by resource, one global resourceVersion, an event
history that watches replay from, and the open watches that get each new event."""

import copy
import queue
import threading
from collections import deque
from dataclasses import dataclass, field

from .kube_objects import KubeError, new_uid, now

# A resource as the store keys it: (API group, plural), e.g. ("batch", "jobs"), ("", "pods").
ResourceKey = tuple[str, str]

# Put into a watch's queue when the stream must be cut (drop_watches, stop).
DROP = object()


@dataclass
class Event:
    rv: int
    key: ResourceKey
    namespace: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict


@dataclass(eq=False)  # identity: two watches of one resource are different watches
class Watch:
    """An open watch: the HTTP handler reads `events` until its timeout or a DROP."""

    key: ResourceKey
    namespace: str | None  # None: all namespaces
    events: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)

    def wants(self, event: Event) -> bool:
        return event.key == self.key and self.namespace in (None, event.namespace)


class ObjectStore:
    """Thread-safe; hands out deep copies so callers never share state with the store."""

    def __init__(self, history: int = 2000):
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._objects: dict[tuple[ResourceKey, str, str], dict] = {}
        self._rv = 1
        self._history: deque[Event] = deque(maxlen=history)
        # A watch from a resourceVersion below this has missed events no longer kept.
        self._oldest_rv = 1
        self._watches: list[Watch] = []
        self.watches_opened = 0
        """How many watches were opened (each resumption of a client's watch is one more)."""

    # ---- reads ----------------------------------------------------------------------------

    def get(self, key: ResourceKey, namespace: str, name: str) -> dict | None:
        with self._lock:
            obj = self._objects.get((key, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, key: ResourceKey, namespace: str | None = None) -> tuple[list[dict], str]:
        """The objects (oldest first) and the resourceVersion of the list."""
        with self._lock:
            items = [
                copy.deepcopy(obj)
                for (k, ns, _), obj in self._objects.items()
                if k == key and namespace in (None, ns)
            ]
            return items, str(self._rv)

    def wait_until(self, predicate, timeout: float) -> bool:
        """Wait for `predicate()` (called under the lock) to hold after some change."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    # ---- writes: each bumps the resourceVersion and records one event ----------------------

    def create(self, key: ResourceKey, namespace: str, obj: dict, prepare=None) -> dict:
        """Store a new object, filling the metadata the server owns; 409 if the name is taken.
        `prepare(obj)` runs once the uid is known (a Job's selector is made of it)."""
        meta = obj.setdefault("metadata", {})
        name = meta["name"]
        with self._lock:
            if (key, namespace, name) in self._objects:
                group, plural = key
                qualified = f"{plural}.{group}" if group else plural
                details = {"name": name, "kind": plural, **({"group": group} if group else {})}
                raise KubeError(
                    409,
                    f'{qualified} "{name}" already exists',
                    reason="AlreadyExists",
                    details=details,
                )
            meta.update(namespace=namespace, uid=new_uid(), creationTimestamp=now())
            meta.setdefault("generation", 1)
            if prepare is not None:
                prepare(obj)
            self._objects[(key, namespace, name)] = obj
            return self._record(key, namespace, "ADDED", obj)

    def update(self, key: ResourceKey, namespace: str, name: str, mutate) -> dict | None:
        """Apply `mutate(obj)` in place; a mutate that returns False changes nothing.
        None if the object is gone."""
        with self._lock:
            obj = self._objects.get((key, namespace, name))
            if obj is None or mutate(obj) is False:
                return None
            return self._record(key, namespace, "MODIFIED", obj)

    def delete(self, key: ResourceKey, namespace: str, name: str) -> dict | None:
        with self._lock:
            obj = self._objects.pop((key, namespace, name), None)
            return None if obj is None else self._record(key, namespace, "DELETED", obj)

    def _record(self, key, namespace, type_: str, obj: dict) -> dict:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        event = Event(self._rv, key, namespace, type_, copy.deepcopy(obj))
        if len(self._history) == self._history.maxlen:
            self._oldest_rv = self._history[0].rv
        self._history.append(event)
        for watch in self._watches:
            if watch.wants(event):
                watch.events.put(event)
        self._changed.notify_all()
        return copy.deepcopy(obj)

    # ---- watches ----------------------------------------------------------------------------

    def watch(self, key: ResourceKey, namespace: str | None, resource_version: str | None):
        """Open a watch: (events it starts with, Watch). From no resourceVersion or "0" it
        starts with an ADDED event per current object; from N, with the events after N.
        KubeError 410 when N is older than the history kept."""
        with self._lock:
            if resource_version in (None, "", "0"):
                start = [
                    Event(int(o["metadata"]["resourceVersion"]), k, ns, "ADDED", copy.deepcopy(o))
                    for (k, ns, _), o in self._objects.items()
                    if k == key and namespace in (None, ns)
                ]
            else:
                try:
                    since = int(resource_version)
                except ValueError:
                    raise KubeError(400, f'invalid resource version "{resource_version}"') from None
                if since < self._oldest_rv:
                    raise KubeError(410, f"too old resource version: {since} ({self._oldest_rv})")
                start = [e for e in self._history if e.rv > since]
            watch = Watch(key, namespace)
            self._watches.append(watch)
            self.watches_opened += 1
            return [e for e in start if watch.wants(e)], watch

    def close_watch(self, watch: Watch) -> None:
        with self._lock:
            if watch in self._watches:
                self._watches.remove(watch)

    def drop_watches(self) -> None:
        with self._lock:
            for watch in self._watches:
                watch.events.put(DROP)

    def compact(self) -> None:
        """Forget the history: resuming from any resourceVersion before now gets a 410."""
        with self._lock:
            self._history.clear()
            self._oldest_rv = self._rv

"""The fake API server's HTTP side: routes, verbs, JSON bodies, chunked watch and log streams.

HTTP/1.1 with keep-alive, as the official client expects: every plain response carries a
Content-Length, every stream is chunked and ends with the last chunk (unless it is dropped on
purpose, when the socket is cut mid-stream).
"""

import contextlib
import json
import queue
import socket
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from docker.errors import NotFound

from .kube_controller import JOBS
from .kube_objects import (
    KubeError,
    not_found,
    parse_time,
    selector_matcher,
)
from .kube_schema import BUILT_IN_KINDS, check_body, checked_object, json_body
from .kube_store import DROP

SUBRESOURCES = {("", "pods"): {"log"}, ("batch", "jobs"): {"status"}}
VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-fake",
    "gitCommit": "fake",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.24",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass(frozen=True)
class Route:
    """What a URL names: a resource, maybe a namespace, an object and a subresource."""

    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def rbac_resource(self) -> str:
        return f"{self.plural}/{self.subresource}" if self.subresource else self.plural

    def verb(self, method: str, query: dict) -> str:
        """The RBAC verb of a request on this route."""
        if method == "GET" and self.name is None:
            return "watch" if truthy(query.get("watch")) else "list"
        collection = {"POST": "create", "DELETE": "deletecollection"}
        item = {"GET": "get", "DELETE": "delete", "PUT": "update", "PATCH": "patch"}
        return (item if self.name else collection).get(method, method.lower())


def truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def resolve(path: str) -> Route | None:
    """The route of a path, or None (404) for what the fake does not serve."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    elif len(rest) != 1:  # only lists across all namespaces; no cluster-scoped objects
        return None
    if len(rest) > 3 or not rest[0]:
        return None
    plural, name, sub = (rest + [None, None])[:3]
    if group == "" and plural not in ("pods", "configmaps"):
        return None
    if group == "batch" and (plural, version) != ("jobs", "v1"):
        return None
    if sub is not None and sub not in SUBRESOURCES.get((group, plural), ()):
        return None
    return Route(group, version, plural, namespace, name, sub)


class KubeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck on a stream must not keep the process alive

    def __init__(self, cluster):
        super().__init__(("127.0.0.1", 0), KubeHandler)
        self.cluster = cluster
        self._lock = threading.Lock()
        self._log_streams: set = set()

    def follow(self, handler, stream) -> None:
        with self._lock:
            self._log_streams.add((handler, stream))

    def unfollow(self, handler, stream) -> None:
        with self._lock:
            self._log_streams.discard((handler, stream))

    def followed_logs(self) -> list[str]:
        """The paths of the log streams being followed now (/api/v1/…/pods/NAME/log)."""
        with self._lock:
            return [urlsplit(handler.path).path for handler, _ in self._log_streams]

    def drop_log_streams(self) -> None:
        with self._lock:
            streams = list(self._log_streams)
        for handler, stream in streams:
            handler.dropped = True
            handler.cut()
            stream.close()  # unblocks the handler's read from docker


class KubeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: KubeHTTPServer
    dropped = False  # a log stream cut by drop_watches()
    streaming = False  # headers of a chunked response sent: no other response can follow

    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        pass  # the test output has the request log (cluster.requests) if it needs one

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        # One handler serves every request of a keep-alive connection: reset its flags.
        self.streaming = self.dropped = False
        self.warnings: list[str] = []  # sent as Warning headers with the response
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        cluster = self.server.cluster
        cluster.record(method, url.path, query)
        try:
            cluster.inject_failure(method, self.path)
            if url.path == "/version":
                return self._send_json(200, VERSION)
            route = resolve(url.path)
            if route is None or not cluster.serves(route):
                raise KubeError(404, "the server could not find the requested resource")
            verb = route.verb(method, query)
            cluster.check_allowed(verb, route)
            self._serve(route, verb, query, body)
        except KubeError as exc:
            self._send_json(exc.code, exc.status())
        except OSError:  # the client went away mid-response
            self.close_connection = True
        except Exception as exc:  # a bug of the fake: answered, and kept for the test to see
            cluster.server_errors.append(traceback.format_exc())
            if self.streaming:
                self.cut()
            else:
                self._send_json(500, KubeError(500, f"fake API server bug: {exc!r}").status())

    def _serve(self, route: Route, verb: str, query: dict, body: bytes) -> None:
        cluster = self.server.cluster
        store, controller = cluster.store, cluster.controller
        namespace, name = route.namespace, route.name
        if verb == "create":
            obj = json_body(body)
            cluster.check_namespace(namespace)
            kind = BUILT_IN_KINDS.get(route.key)
            if kind is not None:  # decoded as the server's typed structs: types, known fields
                self.warnings = check_body(kind, obj)
                cluster.warnings.extend(self.warnings)
            if route.key == JOBS:
                created = controller.create_job(namespace, obj)
            elif route.key == ("", "pods"):
                raise KubeError(405, "the fake creates pods only for Jobs")
            else:
                created = store.create(route.key, namespace, checked_object(route, obj))
            self._send_json(201, created)
        elif verb == "get" and route.subresource == "log":
            self._logs(route, query)
        elif verb == "get":
            obj = store.get(route.key, namespace, name)
            if obj is None:
                raise not_found(route.plural, route.group, name)
            self._send_json(200, obj)
        elif verb == "list":
            matches = selector_matcher(query.get("labelSelector"), query.get("fieldSelector"))
            items, rv = store.list(route.key, namespace)
            self._send_json(200, _list(route, [i for i in items if matches(i)], rv))
        elif verb == "watch":
            self._watch(route, query)
        elif verb == "delete":
            options = json_body(body) if body.strip() else {}  # DeleteOptions, if sent
            policy = query.get("propagationPolicy") or options.get("propagationPolicy")
            if route.key == JOBS:
                self._send_json(200, controller.delete_job(namespace, name, policy))
            elif route.key == ("", "pods"):
                self._send_json(200, controller.delete_pod(namespace, name))
            else:
                obj = store.delete(route.key, namespace, name)
                if obj is None:
                    raise not_found(route.plural, route.group, name)
                details = {"name": name, "group": route.group, "kind": route.plural}
                details["uid"] = obj["metadata"]["uid"]
                self._send_json(
                    200,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "details": details,
                    },
                )
        else:
            raise KubeError(405, "the server does not allow this method on the requested resource")

    # ---- streams ----------------------------------------------------------------------------

    def _watch(self, route: Route, query: dict) -> None:
        self.server.cluster.wait_if_watches_held()
        store = self.server.cluster.store
        matches = selector_matcher(query.get("labelSelector"), query.get("fieldSelector"))
        try:
            deadline = time.monotonic() + float(query.get("timeoutSeconds") or 300)
        except ValueError:
            raise KubeError(400, f"invalid timeoutSeconds {query['timeoutSeconds']!r}") from None
        try:
            start, watch = store.watch(route.key, route.namespace, query.get("resourceVersion"))
        except KubeError as exc:
            if exc.code != 410:
                raise
            # Too old: the server answers 200 and says so in the stream, as a real one.
            self._start_stream("application/json")
            self._chunk(_event_line("ERROR", exc.status()))
            return self._end_stream()
        self._start_stream("application/json")
        pending = deque(start)
        try:
            while True:
                if pending:
                    event = pending.popleft()
                else:
                    try:
                        event = watch.events.get(timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        break  # timeoutSeconds reached: a clean end
                if event is DROP:
                    return self.cut()
                if matches(event.obj):
                    self._chunk(_event_line(event.type, event.obj))
            self._end_stream()
        except OSError:  # the client went away
            self.close_connection = True
        finally:
            store.close_watch(watch)

    def _logs(self, route: Route, query: dict) -> None:
        kubelet = self.server.cluster.controller.kubelet
        container, name = kubelet.log_container(route.namespace, route.name, query.get("container"))
        if truthy(query.get("previous")):  # containers are never restarted in place here
            message = f'previous terminated container "{name}" in pod "{route.name}" not found'
            raise KubeError(400, message)
        which = query.get("stream") or "All"  # k8s 1.32+: All, Stdout or Stderr
        options = {"stdout": which in ("All", "Stdout"), "stderr": which in ("All", "Stderr")}
        options["timestamps"] = truthy(query.get("timestamps"))
        try:
            if "tailLines" in query:
                options["tail"] = int(query["tailLines"])
            if "sinceTime" in query:
                options["since"] = parse_time(query["sinceTime"])
            elif "sinceSeconds" in query:
                options["since"] = time.time() - int(query["sinceSeconds"])
        except ValueError as exc:
            raise KubeError(400, f"invalid log options: {exc}") from None
        try:
            self._send_logs(container, options, query)
        except NotFound:  # the pod's container was removed meanwhile (its pod deleted)
            if self.streaming:
                raise
            raise not_found("pods", "", route.name) from None

    def _send_logs(self, container, options: dict, query: dict) -> None:
        if not truthy(query.get("follow")):
            data = container.logs(**options)
            if "limitBytes" in query:
                data = data[: int(query["limitBytes"])]
            return self._send(200, "text/plain", data)
        stream = container.logs(stream=True, follow=True, **options)
        self.server.follow(self, stream)
        self._start_stream("text/plain")
        try:
            for chunk in stream:  # until the container exits
                self._chunk(chunk)
            self._end_stream()
        except Exception:
            if not self.dropped:  # a drop breaks the docker read on purpose
                raise
        finally:
            self.server.unfollow(self, stream)
            stream.close()
        if self.dropped:
            self.close_connection = True

    def cut(self) -> None:
        """End the response abruptly: no last chunk, the connection shut (a dropped stream)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # ---- writing ----------------------------------------------------------------------------

    def _send(self, code: int, content_type: str, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        for warning in getattr(self, "warnings", []):
            self.send_header("Warning", f'299 - "{_quoted(warning)}"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, code: int, obj: dict) -> None:
        self._send(code, "application/json", json.dumps(obj).encode())

    def _start_stream(self, content_type: str) -> None:
        self.streaming = True
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.streaming = False


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _event_line(type_: str, obj: dict) -> bytes:
    return json.dumps({"type": type_, "object": obj}).encode() + b"\n"


def _list(route: Route, items: list[dict], resource_version: str) -> dict:
    kind = BUILT_IN_KINDS.get(route.key)
    if kind:  # a built-in list's items carry no apiVersion/kind; a custom one's do
        for item in items:
            item.pop("apiVersion", None)
            item.pop("kind", None)
        kind += "List"
    else:
        kind = f"{items[0]['kind']}List" if items else "List"
    return {
        "apiVersion": route.api_version,
        "kind": kind,
        "metadata": {"resourceVersion": resource_version},
        "items": items,
    }

"""The docker SDK, loaded on first use, and the connection to the Docker engine.

Both the docker runner and the image builder talk to the engine through `engine()`: one client
per engine address, its timeouts, an engine that does not answer as a RunnerError at the stage
asked, and a missing `docker` extra named with what to install.
"""

import os
import threading

from runners.protocol import RunnerError
from runners.targets.lazy import LazyModule
from store import Stage

docker = LazyModule("docker")
errors = LazyModule("docker.errors")
types = LazyModule("docker.types")
requests_exceptions = LazyModule("requests.exceptions")
urllib3_exceptions = LazyModule("urllib3.exceptions")

ENGINE_TIMEOUT_SECONDS = 120  # one API call (a build or a push streams, and is not bound by it)
DEFAULT_ADDRESS = "unix:///var/run/docker.sock"

_clients: dict[str, object] = {}
_lock = threading.Lock()


def engine(stage: Stage):
    """The docker client of the engine DOCKER_HOST (or the default socket) points to,
    connected on first use. Raises MissingExtra without the SDK, and RunnerError at `stage`,
    saying where we looked, when the engine doesn't answer."""
    from runners.registry import require_sdk  # the registry imports the runners lazily too

    address = os.environ.get("DOCKER_HOST", DEFAULT_ADDRESS)
    with _lock:
        client = _clients.get(address)
        if client is not None:
            return client
        require_sdk("docker")
        try:
            client = docker.from_env(timeout=ENGINE_TIMEOUT_SECONDS, max_pool_size=64)
            client.ping()
        except errors.DockerException as exc:
            raise RunnerError(
                stage,
                f"cannot reach the Docker engine at {address} ({reason(exc)}); start"
                " dockerd or point DOCKER_HOST at a running engine",
            ) from None
        if engine_is_local():
            # Proxy variables mean nothing on a unix socket; reading them costs each call.
            client.api.trust_env = False
        _clients[address] = client
        return client


def engine_is_local() -> bool:
    """Whether the engine runs on this machine and sees our files (a unix socket)."""
    return os.environ.get("DOCKER_HOST", "unix://").startswith("unix://")


def is_read_timeout(exc: Exception) -> bool:
    """docker-py reports its own read timeout as a ConnectionError wrapping urllib3's."""
    timeout = urllib3_exceptions.ReadTimeoutError
    return any(isinstance(arg, timeout) for arg in exc.args) or "timed out" in str(exc)


def reason(exc: Exception) -> str:
    """An engine error in a few words: the usual socket errors by name, else its first line."""
    text = str(exc)
    for marker in ("Connection refused", "No such file or directory", "Permission denied"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:200] if text else type(exc).__name__

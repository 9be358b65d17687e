"""The Docker engine the tests share: the engine (started by scripts/services/docker.sh), the base
images it made, the local registry, and queues and jobs on them."""

import contextlib
import json
import time
import urllib.request

import pytest

from store import Store

BUSYBOX = "local/busybox:latest"
PYTHON = "local/python3:latest"
REGISTRY = "127.0.0.1:5000"
# Generated Dockerfiles start from the local python image; builds use no network (there is no
# bridge here).
BUILDER = {"base_image": PYTHON, "network": "none"}


@pytest.fixture(scope="session")
def engine():
    """The real Docker engine. Missing, it is a failure (never a skip): CI must have it."""
    import docker

    try:
        client = docker.from_env(timeout=60)
        client.ping()
        for image in (BUSYBOX, PYTHON):
            client.images.get(image)
    except Exception as exc:
        pytest.fail(f"no Docker engine with {BUSYBOX} and {PYTHON} ({exc}); run scripts/test.sh")
    yield client
    client.close()


def docker_queue(store: Store, name: str = "dock", config: dict | None = None):
    """A docker queue that builds with BUILDER."""
    from runners.catalog.queues import check_queue_config

    config = {"builder": BUILDER, **(config or {})}
    return store.queues.create(name, "docker", check_queue_config("docker", config))


def image_job(store: Store, name: str, script: str, image: str = BUSYBOX):
    """An image job running `sh -c SCRIPT` (the script gets args as $0, $1, …)."""
    from runners.catalog.jobs import create_job

    shell = "sh" if image == BUSYBOX else "/bin/sh"
    return create_job(
        store, "image", name, image, entrypoint=f"{shell} -c {json.dumps(script)}"
    ).version


def containers_of(client, run_id: str) -> list[dict]:
    """The run's containers as the engine lists them (no inspect each: one may be going)."""
    return client.api.containers(all=True, filters={"label": f"launchbay.run-id={run_id}"})


def registry_tags(repository: str) -> list[str]:
    with urllib.request.urlopen(f"http://{REGISTRY}/v2/{repository}/tags/list", timeout=10) as r:
        return json.load(r).get("tags") or []


def fresh_registry(prefix: str) -> dict:
    """Queue config keys that build with BUILDER and push to a repository of the local
    registry that no earlier test used."""
    return {"registry": f"{REGISTRY}/{prefix}-{time.time_ns()}", "builder": BUILDER}


def pushed_image(registry: str) -> str:
    """The one image pushed to `registry` (HOST/REPOSITORY), by its full reference."""
    (tag,) = registry_tags(registry.split("/", 1)[1])
    return f"{registry}:{tag}"


@pytest.fixture
def containers_removed_after(store, engine):
    """Remove, after the test, any container left by its runs (a failed test leaves some)."""
    from docker.errors import APIError

    yield
    for run in store.runs.list():
        for container in containers_of(engine, run.id):
            with contextlib.suppress(APIError):  # maybe being removed by the agent already
                engine.api.remove_container(container["Id"], force=True)

"""Shared fixtures: a private database per test, the CLI run in-process, and the kit's fixtures
(the Docker engine, the fake Kubernetes cluster, moto's AWS, Google Cloud's fakes)."""

import contextlib
import io
from pathlib import Path

import pytest
from kit import Result
from kit.aws import aws  # noqa: F401  (moto's AWS, a fixture)
from kit.cluster import cluster, cluster_options, kubeconfig  # noqa: F401  (fixtures)
from kit.engine import engine  # noqa: F401  (the Docker engine, a session fixture)
from kit.gcp import gcs, vertex  # noqa: F401  (Cloud Storage's emulator, fake Vertex AI)
from kit.ray import ray_head  # noqa: F401  (the Ray head, its tests in its network namespace)
from kit.slurm import cancel_leftovers, slurm_cluster, ssh_login  # noqa: F401  (Slurm, sshd)

from store import Store


@pytest.fixture(autouse=True)
def config_dir(tmp_path_factory, monkeypatch) -> Path:
    """The user's config folder, empty: no test reads the config of whoever runs the suite.
    (Beside the test's tmp_path, not in it: tests check what a command left there.)"""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("LAUNCHBAY_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def declare_gpus(config_dir):
    """Write a config file declaring `count` GPUs (no GPU exists here; the code below the
    inventory is the same as for NVML's)."""

    def declare(count: int = 2, name: str = "NVIDIA A100-SXM4-80GB") -> None:
        devices = "".join(
            f"  - {{index: {i}, name: {name}, memory_mib: 81920, uuid: GPU-{i}}}\n"
            for i in range(count)
        )
        (config_dir / "config.yaml").write_text("gpus:\n" + devices)

    return declare


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "lb.db"
    monkeypatch.setenv("LAUNCHBAY_DB", str(path))
    return path


@pytest.fixture
def store(db_path):
    s = Store.open(db_path)
    yield s
    s.close()


@pytest.fixture
def cli(db_path):
    """Run `launchbay ARGS…` in this process; returns Result(code, out, err)."""
    from tui.cli import main

    def run(*args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["--db", str(db_path), *args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        return Result(code, out.getvalue(), err.getvalue())

    return run

"""Each target's SDK adaptor (runners/targets/<name>/sdk.py): a runner's module names its SDK
without importing it, the first use imports only that SDK, and the docker engine the runner and
the image builder share says which extra is missing."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from runners.images.builder import image_for_run
from runners.protocol import RunnerError
from runners.registry import MissingExtra
from runners.targets.docker import sdk as docker_sdk
from store import Stage

REPO = Path(__file__).resolve().parents[1]
SDKS = (
    "docker",
    "kubernetes",
    "kubernetes_validate",
    "boto3",
    "botocore",
    "google.api_core",
    "google.auth",
    "google.cloud.aiplatform_v1",
    "google.cloud.logging_v2",
    "ray",
)


def loaded_sdks_after(code: str) -> list[str]:
    """The SDK modules (SDKS and below) loaded once `code` has run in a fresh interpreter."""
    script = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        sdks = {list(SDKS)!r}
        print(json.dumps(sorted(
            m for m in sys.modules if any(m == s or m.startswith(s + ".") for s in sdks)
        )))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_every_runner_and_the_image_builder_loads_no_sdk():
    loaded = loaded_sdks_after(
        """
        import runners.images.builder
        import runners.targets.docker.runner, runners.targets.kubernetes.runner
        import runners.targets.sagemaker.runner, runners.targets.vertex.runner
        import runners.targets.local_process.runner, runners.targets.ray.runner
        """
    )
    assert loaded == []


def test_the_first_use_of_an_adaptor_loads_its_own_sdk_only():
    loaded = loaded_sdks_after(
        """
        import runners.targets.docker.runner, runners.targets.kubernetes.runner
        import runners.targets.vertex.runner
        from runners.targets.sagemaker import sdk
        assert sdk.errors.ClientError.__name__ == "ClientError"
        """
    )
    assert "botocore.exceptions" in loaded
    assert not [m for m in loaded if not m.startswith("botocore")], loaded


def test_without_the_docker_sdk_the_engine_names_the_extra_and_a_build_fails_at_build(
    monkeypatch,
):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(docker_sdk, "_clients", {})  # not connected yet
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "docker" else real_find_spec(name, *args),
    )
    with pytest.raises(MissingExtra) as missing:
        docker_sdk.engine(Stage.RUN)
    assert str(missing.value) == "resource: docker needs docker: pip install 'launchbay[docker]'"

    code_job = SimpleNamespace(job=SimpleNamespace(type="code", ref="train:v1"))
    with pytest.raises(RunnerError) as failed:
        image_for_run(code_job)
    assert failed.value.stage is Stage.BUILD
    assert failed.value.message == (
        "train:v1 must be built into an image first: docker needs docker:"
        " pip install 'launchbay[docker]'"
    )


def test_a_ray_queues_checks_and_dry_run_load_no_ray():
    loaded = loaded_sdks_after(
        """
        from runners.registry import get_runner
        runner = get_runner("ray")
        target = runner.check_target({"address": "http://127.0.0.1:8265"})
        args = runner.check_resource_args({"entrypoint_num_cpus": 1, "pip": ["requests"]})
        spec = {"run_id": "r1", "queue": "q", "job": {"ref": "j:v0"}, "entry_point": ["python"],
                "args": ["m.py"], "resource_args": args, "target": target}
        assert runner.preview_submission(spec)["runtime_env"]["pip"] == ["requests"]
        """
    )
    assert loaded == []

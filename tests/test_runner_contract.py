"""The Runner contract: three abstract methods, capabilities declared once, one failed status."""

import pytest

from runners.protocol import Capability, Handle, Runner, RunStatus, SubmitContext
from runners.registry import RESOURCE_TYPES
from store import RunState, Stage


class _Complete(Runner):
    resource_type = "complete"

    def submit(self, ctx: SubmitContext) -> Handle:
        return {}

    def status(self, handle: Handle) -> RunStatus:
        return RunStatus(RunState.FINISHED)

    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        return None


@pytest.mark.parametrize("missing", ["submit", "status", "cancel"])
def test_a_runner_missing_one_of_the_three_methods_cannot_be_instantiated(missing):
    present = {n: vars(_Complete)[n] for n in ("submit", "status", "cancel") if n != missing}
    incomplete = type("Incomplete", (Runner,), {"resource_type": "incomplete", **present})
    with pytest.raises(TypeError, match=missing):
        incomplete()


def test_a_runner_with_the_three_methods_has_defaults_for_the_rest():
    runner = _Complete()
    assert runner.capabilities == frozenset()
    assert runner.find("r1", None) is None
    assert runner.abandon("r1", None) is False
    assert runner.preview_submission({}) is None


def test_every_target_declares_its_capabilities_as_a_frozenset_of_capability():
    from runners.registry import get_runner

    expected = {
        "local-process": {Capability.STARTS_RUNNING, Capability.SHARES_GPUS},
        "docker": {Capability.BUILDS_IMAGES, Capability.STARTS_RUNNING, Capability.SHARES_GPUS},
        "kubernetes": {Capability.BUILDS_IMAGES, Capability.NEEDS_REGISTRY},
        "sagemaker": {Capability.BUILDS_IMAGES, Capability.NEEDS_REGISTRY},
        "slurm": set(),  # runs the job's code on the cluster: no image
        "vertex": {Capability.BUILDS_IMAGES, Capability.NEEDS_REGISTRY},
        "ray": set(),  # the job's code is uploaded as it is, to a cluster elsewhere
    }
    assert {t.name for t in RESOURCE_TYPES} == set(expected)
    for name, capabilities in expected.items():
        runner = get_runner(name)
        assert isinstance(runner.capabilities, frozenset)
        assert runner.capabilities == capabilities, name


def test_log_drain_is_15_seconds_unless_a_target_declares_its_own():
    from runners.registry import get_runner

    drains = {t.name: get_runner(t.name).log_drain_seconds for t in RESOURCE_TYPES}
    assert drains == {
        "local-process": 15.0,
        "docker": 30.0,
        "kubernetes": 15.0,
        "sagemaker": 15.0,
        "slurm": 15.0,
        "vertex": 15.0,
        "ray": 15.0,
    }


def test_the_failed_constructor_fills_stage_and_error_from_the_message():
    status = RunStatus.failed(Stage.RUN, "exited with code 3", exit_code=3)
    assert status == RunStatus(
        RunState.FAILED,
        "exited with code 3",
        exit_code=3,
        error_stage=Stage.RUN,
        error_message="exited with code 3",
    )
    other = RunStatus.failed(Stage.AGENT, "ValueError: x", error_message="x")
    assert (other.error_stage, other.message, other.error_message) == (
        Stage.AGENT,
        "ValueError: x",
        "x",
    )

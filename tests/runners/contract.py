"""What every target must do, stated once and run once per target (huey's StorageTests are the
model). A target's test module subclasses RunnerContract as `TestContract` and gives it a
`backend` fixture: a Backend (contract_backend.py) for that target (tests/runners/test_<target>.py).

The runs here are of one job, a *held* job: it shows what it was given (its run id, its resume
count and its run config, as `run=…`, `resume=…`, `config=…`), prints `before`, waits until the
test releases it, prints `after` and exits with the code it was made with. A target whose jobs
run nowhere (the fakes of SageMaker and Vertex) plays that part with its fake: it writes the log
lines and ends the job as released.

A behaviour a target cannot have is not generated for it: RunnerContract leaves out the test
(it is not skipped) when the backend's class says so (`preemptible`, `has_remote_object`) or the
runner lacks the capability (Capability.BUILDS_IMAGES)."""

import json
import time

from contract_backend import QUEUE, Backend, job_lines
from kit import (
    AgentOutput,
    AgentThread,
    agent_killed_after,
    forget_handle,
    launch,
    log_of,
    pushed_image,
    refusal_checker,
    run_of,
    wait_for,
    write_code_job,
)

from runners.agent.cancelling import cancel_by_id
from runners.catalog.jobs import create_job
from runners.protocol import Capability
from runners.registry import get_runner
from store import RunState

LIVE = {RunState.RUNNING}


def _needs(**requirements):
    """Mark a contract test as one only some backends get (see RunnerContract)."""

    def mark(test):
        test.requirements = requirements
        return test

    return mark


def _applies(backend_class, requirements: dict) -> bool:
    for name, wanted in requirements.items():
        if name == "capability":
            have = wanted in get_runner(backend_class.resource).capabilities
        else:
            have = getattr(backend_class, name)
        if not have:
            return False
    return True


def _live_run(store, backend, item):
    """The run of `item` once it is RUNNING and its job has printed `before`."""
    run = run_of(store, item, LIVE)
    backend.started(store, run)
    wait_for(lambda: "before" in job_lines(log_of(store, run.id)), 60, "the job's first line")
    return run


class RunnerContract:
    """The behaviours every target shows. Subclass as `TestContract` with a `backend` fixture."""

    backend_class: type[Backend]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A behaviour the target cannot have is not a test of it (not a skip either).
        for name in dir(cls):
            requirements = getattr(getattr(cls, name), "requirements", None)
            if requirements and not _applies(cls.backend_class, requirements):
                setattr(cls, name, None)

    def test_a_run_finishes_and_its_job_gets_the_runs_env_and_config(self, backend, store, db_path):
        backend.queue(store)
        backend.held_job(store, "probe")
        overrides = {"run_config": {"lr": 0.5}}
        item = launch(store, "probe", QUEUE, args=["--lr 0.1"], spec={"overrides": overrides})
        with AgentThread(db_path):
            run = _live_run(store, backend, item)
            backend.release(store, run)
            run = run_of(store, item)
        log = log_of(store, run.id)
        assert run.state is RunState.FINISHED, (run.message, log)
        seen = backend.seen(store, run)
        assert seen.env["LAUNCHBAY_RUN_ID"] == run.id
        assert seen.config == {"lr": 0.5}
        # What W&B's agent gives a run, so that wandb.init() sees the launched config.
        assert seen.env["WANDB_RUN_ID"] == run.id
        assert json.loads(seen.env["WANDB_CONFIG"]) == {"lr": 0.5}
        assert job_lines(log)[-2:] == ["before", "after"]
        events = [event.to_state for event in store.runs.events(run.id)]
        assert events[-2:] == ["running", "finished"]
        backend.check_finished(store, run)

    def test_a_failure_fails_the_run_at_stage_run_with_its_reason(self, backend, store, db_path):
        backend.queue(store)
        backend.held_job(store, "bad", exit_code=3)
        item = launch(store, "bad", QUEUE)
        with AgentThread(db_path):
            run = _live_run(store, backend, item)
            backend.release(store, run)
            run = run_of(store, item)
        assert run.state is RunState.FAILED, run.message
        assert run.error_stage == "run"
        assert backend.failure_says in run.error_message
        assert "before" in job_lines(log_of(store, run.id))
        backend.check_failed(store, run)

    def test_cancel_stops_the_run_within_its_grace(self, backend, store, db_path):
        backend.queue(store)
        backend.held_job(store, "sleeper")
        item = launch(store, "sleeper", QUEUE)
        with AgentThread(db_path):
            run = _live_run(store, backend, item)
            asked = time.monotonic()
            cancel_by_id(store, run.id)
            run = run_of(store, item)
            took = time.monotonic() - asked
        assert run.state is RunState.STOPPED, run.message
        # Queues here give a 30 s grace: the job goes on SIGTERM, long before the SIGKILL.
        assert took < 20, f"stop took {took:.1f}s"
        backend.check_cancelled(store, run)

    def test_runs_outlive_a_killed_agent_and_are_re_adopted_each_line_copied_once(
        self, backend, store, db_path
    ):
        # Two runs, one agent to kill and one to adopt them: one with its handle recorded, one
        # as if the agent died before recording it (found again by the target's labels/tags).
        backend.queue(store)
        backend.held_job(store, "long")
        items = [launch(store, "long", QUEUE) for _ in range(2)]
        with agent_killed_after(db_path, QUEUE, "--max-jobs", "2"):
            runs = [_live_run(store, backend, item) for item in items]
        forget_handle(store, runs[1].id)
        for run in runs:
            backend.while_no_agent_runs(store, run)
        with AgentOutput(db_path, QUEUE, "--until-empty", "--max-jobs", "2") as second:
            # Released only once re-adopted: the new agent found each run live, not ended.
            for run in runs:
                second.wait_for_line(f"run {run.id}: re-adopted", 60)
                assert store.runs.get(run.id).state is RunState.RUNNING
            for run in runs:
                backend.release(store, run)
            output = second.finish(120)
        for run in runs:
            run = store.runs.get(run.id)
            assert run.state is RunState.FINISHED, output
            ours = job_lines(log_of(store, run.id))
            assert ours[-1] == "after" and "before" in ours, ours
            assert len(ours) == len(set(ours)), ours  # no line copied twice, none lost
            assert run.handle  # found again, and recorded
            backend.check_readopted(store, run, output)

    def test_a_run_that_ended_while_no_agent_watched_keeps_the_time_it_ended(
        self, backend, store, db_path
    ):
        backend.queue(store)
        backend.held_job(store, "short", exit_code=3)
        item = launch(store, "short", QUEUE)
        with agent_killed_after(db_path, QUEUE):
            run = _live_run(store, backend, item)
        backend.release(store, run)
        runner = get_runner(backend.resource)
        wait_for(lambda: runner.status(run.handle).state.is_terminal(), 60, "the job's end")
        seen_ended = time.time()
        with AgentOutput(db_path, QUEUE, "--until-empty") as second:
            output = second.finish(120)
        run = store.runs.get(run.id)
        assert run.state is RunState.FAILED, output
        assert run.started_at <= run.ended_at < seen_ended, output

    def pytest_generate_tests(self, metafunc):
        if "watched" in metafunc.fixturenames:
            modes = self.backend_class.vanish_modes
            metafunc.parametrize("watched", [mode == "watched" for mode in modes], ids=modes)

    @_needs(has_remote_object=True)
    def test_a_remote_object_deleted_behind_launchbays_back_fails_the_run_saying_so(
        self, backend, store, db_path, watched
    ):
        backend.queue(store)
        backend.held_job(store, "doomed")
        item = launch(store, "doomed", QUEUE)
        if watched:
            with AgentThread(db_path):
                run = _live_run(store, backend, item)
                backend.vanish(store, run)
                run = run_of(store, item)
            output = run.message
        else:
            with agent_killed_after(db_path, QUEUE):
                run = _live_run(store, backend, item)
            backend.vanish(store, run)
            with AgentOutput(db_path, QUEUE, "--until-empty") as second:
                output = second.finish(120)
            run = store.runs.get(run.id)
        # The same outcome on every target (README, "Across targets").
        assert run.state is RunState.FAILED, output
        assert run.error_stage == "run"
        assert backend.vanished_says in run.error_message
        backend.check_vanished(store, run)

    def test_a_launch_reaching_out_of_its_queues_sandbox_is_refused_and_changes_nothing(
        self, backend, store, db_path, cli
    ):
        queue_args, launch_args, fragments = backend.escape
        backend.queue(store, resource_args=queue_args)
        backend.held_job(store, "escapee")
        refused = refusal_checker(cli, db_path)
        overrides = json.dumps({"resource_args": launch_args})
        refused(["launch", "-j", "escapee", "-q", QUEUE, "-c", overrides], *fragments)

    @_needs(capability=Capability.BUILDS_IMAGES)
    def test_a_code_job_is_built_and_run(self, backend, store, db_path, tmp_path):
        registry = backend.registry()
        code = write_code_job(tmp_path / "code", "print('built and ran')\n")
        backend.queue(store, **registry)
        create_job(store, "code", "coder", str(code), entrypoint="python3 main.py")
        backend.run_freely()
        item = launch(store, "coder", QUEUE)
        with AgentThread(db_path):
            run = run_of(store, item, timeout=300)  # built first
        assert run.state is RunState.FINISHED, (run.message, log_of(store, run.id))
        needs_registry = Capability.NEEDS_REGISTRY in get_runner(backend.resource).capabilities
        if needs_registry:
            image = pushed_image(registry["registry"])
            assert image.startswith(f"{registry['registry']}:coder-")
        backend.check_built(store, run, registry if needs_registry else None)

    @_needs(preemptible=True)
    def test_a_preempted_run_is_requeued_until_its_queues_max_resumes(
        self, backend, store, db_path
    ):
        backend.queue(store, resource_args=backend.preemptible_args, max_resumes=1)
        backend.held_job(store, "long")
        first_item = launch(store, "long", QUEUE, spec={"overrides": {"run_config": {"step": 7}}})
        with AgentThread(db_path, max_jobs=2):
            first = _live_run(store, backend, first_item)
            assert backend.seen(store, first).env.get("LAUNCHBAY_RESUME_COUNT", "0") == "0"
            backend.preempt(store, first)
            first = run_of(store, first_item)
            assert first.state is RunState.PREEMPTED, first.message
            assert "requeued as item" in first.message
            second_item = first_item + 1
            second = _live_run(store, backend, second_item)
            assert store.items.get(second_item).resume_count == 1
            assert second.spec["run_config"] == {"step": 7}
            seen = backend.seen(store, second)
            assert seen.env["LAUNCHBAY_RESUME_COUNT"] == "1"
            assert seen.config == {"step": 7}
            backend.preempt(store, second)
            second = run_of(store, second_item)
        assert second.state is RunState.PREEMPTED
        assert "not requeued" in second.message
        assert store.runs.find_for_item(second_item + 1) is None

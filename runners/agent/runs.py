"""The agent's run threads: each live run has one that submits it and then blocks in
`runner.wait`, posting what it sees to the agent thread (they never touch the store); and
stopping runs (a mixin of `Agent`)."""

import time
from dataclasses import dataclass
from pathlib import Path

from runners.protocol import Handle, Runner, RunnerError, RunStatus, SubmitContext
from runners.runlog.logfile import note_in_log
from store import JobVersion, Run, RunState, Stage, Store

WAIT_SLICE_SECONDS = 30.0  # a run thread re-checks that the agent still runs this often
DEFAULT_STOP_GRACE = 10.0


@dataclass
class LiveRun:
    """A run this agent is following."""

    run_id: str
    item_id: int
    runner: Runner
    spec: dict
    handle: Handle | None = None
    cancel_sent: bool = False
    stop_wanted: bool = False


@dataclass(frozen=True)
class Submitted:
    run_id: str
    handle: Handle


@dataclass(frozen=True)
class StatusSeen:
    run_id: str
    status: RunStatus


class RunThreads:
    """Run threads (no store access here: they post to the agent thread), and stopping runs."""

    def _submit_and_watch(self, live: LiveRun, job: JobVersion, store: Store) -> None:
        run_dir = store.run_dir(live.run_id)
        log_path = store.run_log_path(live.run_id)
        try:
            run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            artifact = job.source.get("artifact")
            ctx = SubmitContext(
                run_id=live.run_id,
                run_dir=run_dir,
                log_path=log_path,
                spec=live.spec,
                job=job,
                artifact_path=store.artifacts.path_for(artifact) if artifact else None,
                agent_env=self.environ,
            )
            handle = live.runner.submit(ctx)
        except RunnerError as exc:
            self._post_failure(live, log_path, exc.stage, exc.message)
            return
        except Exception as exc:  # an SDK or OS error: still a failed run, never a dead agent
            self._post_failure(live, log_path, Stage.RUN, f"{type(exc).__name__}: {exc}")
            return
        self._post(Submitted(live.run_id, handle))
        self._watch(live, handle)

    def _watch(self, live: LiveRun, handle: Handle) -> None:
        seen: tuple | None = None
        while not self._stop.is_set():
            try:
                status = live.runner.wait(handle, WAIT_SLICE_SECONDS)
            except RunnerError as exc:
                status = RunStatus.failed(exc.stage, exc.message)
            except Exception as exc:
                status = RunStatus.failed(
                    Stage.RUN, f"{type(exc).__name__}: {exc}", error_message=str(exc)
                )
            # A new message is news too: "Unschedulable: 0/3 nodes…" while still starting.
            if (status.state, status.message) != seen or status.state.is_terminal():
                seen = (status.state, status.message)
                self._post(StatusSeen(live.run_id, status))
            if status.state.is_terminal():
                return

    def _post_failure(self, live: LiveRun, log_path: Path, stage: Stage, message: str) -> None:
        note_in_log(log_path, f"{stage} failed: {message}")
        self._post(
            StatusSeen(
                live.run_id,
                RunStatus.failed(stage, message),
            )
        )

    def _post(self, message) -> None:
        self._inbox.put(message)
        self._waker.wake()

    # -- stopping runs -----------------------------------------------------------------------

    def _send_stop_requests(self, store: Store) -> None:
        if not self.live:
            return
        for run in store.runs.list(agent_id=self.id, states=[RunState.STOPPING.value]):
            live = self.live.get(run.id)
            if live is None or live.cancel_sent:
                continue
            live.stop_wanted = True
            if live.handle is not None:
                self._cancel(live, run)

    def _cancel(self, live: LiveRun, run: Run | None = None) -> None:
        grace = (live.spec.get("resource_args") or {}).get("stop_grace_seconds", DEFAULT_STOP_GRACE)
        if run is not None and run.stop_requested_at is not None:
            # After an agent restart, the grace counts from the original request.
            grace = max(0.0, grace - (time.time() - run.stop_requested_at))
        live.cancel_sent = True
        try:
            live.runner.cancel(live.handle, grace)
        except Exception as exc:
            live.cancel_sent = False  # asked again on the next pass
            self._report(f"run {live.run_id}: cancel failed, will retry: {exc}")

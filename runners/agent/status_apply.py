"""Applying what run threads saw, on the agent thread (a mixin of `Agent`): a submission
records the handle; a status moves the run through its state machine; an end requeues a
preempted run or retries a failed one, in the transaction that ends it."""

import queue as queue_module

from runners.agent.notifying import NotifyFailed
from runners.agent.runs import LiveRun, Submitted
from runners.protocol import Capability, Handle, RunStatus
from store import IllegalTransition, RunState, Store


class StatusApply:
    """Takes the run threads' messages from the inbox and applies them to the store."""

    def _apply_inbox(self, store: Store) -> None:
        while True:
            if not self._unapplied:
                try:
                    self._unapplied.append(self._inbox.get_nowait())
                except queue_module.Empty:
                    return
            # Dropped only once applied: a store fault midway leaves it for the next pass.
            self._apply_message(store, self._unapplied[0])
            self._unapplied.popleft()

    def _apply_message(self, store: Store, message) -> None:
        if isinstance(message, NotifyFailed):  # the run has ended: a note in its timeline
            store.runs.add_note(message.run_id, message.text)
            return
        live = self.live.get(message.run_id)
        if live is None:
            return
        if isinstance(message, Submitted):
            live.handle = message.handle
            at_once = Capability.STARTS_RUNNING in live.runner.capabilities
            submitted = RunStatus(RunState.RUNNING if at_once else RunState.STARTING, "submitted")
            self._apply_status(store, live, submitted, handle=message.handle)
            if live.stop_wanted:
                self._cancel(live)
        else:
            self._apply_status(store, live, message.status)

    def _apply_status(
        self, store: Store, live: LiveRun, status: RunStatus, handle: Handle | None = None
    ) -> None:
        run = store.runs.get(live.run_id)
        target, message = status.state, status.message
        moves = (
            not run.state.is_terminal()
            and target != run.state
            and not (target is RunState.RUNNING and run.state is RunState.STOPPING)
        )
        if handle is not None and not moves:
            store.runs.set_handle(live.run_id, handle)  # else the transition records it
        if run.state.is_terminal():
            self.live.pop(live.run_id, None)
            return
        # A run being stopped ends stopped, whatever ended it: a preemption that comes after
        # the cancel must not requeue it.
        if status.state.is_terminal() and run.state is RunState.STOPPING:
            target = RunState.STOPPED
            message = f"stopped on request ({status.message})" if status.message else "stopped"
        if target == run.state:
            if message and message != run.message:
                store.runs.set_message(live.run_id, message)
            return
        if target is RunState.RUNNING and run.state is RunState.STOPPING:
            return  # still shutting down
        if target is RunState.STARTING:
            # A remote job back in a queue (a pod rescheduled): the run never goes back.
            if message and message != run.message:
                store.runs.set_message(live.run_id, message)
            return
        failed = target in (RunState.FAILED, RunState.CRASHED)
        try:
            # One transaction: nobody sees a preempted run that is not yet requeued.
            with store.transaction():
                store.runs.transition(
                    live.run_id,
                    target,
                    message,
                    exit_code=status.exit_code,
                    error_stage=status.error_stage if failed else None,
                    error_message=status.error_message if failed else None,
                    handle=handle,
                    ended_at=status.ended_at,
                )
                if target is RunState.PREEMPTED:
                    message = self._requeue_preempted(store, live.run_id, message)
                elif failed:
                    message = self._retry_failed(store, live.run_id, target, message)
        except IllegalTransition as exc:
            self._record_error(store, str(exc))
        if target.is_terminal():
            self.live.pop(live.run_id, None)
            ended = f"run {live.run_id}: {target.value}"
            self._report(ended + (f" ({message})" if message else ""))
            self._notify_ended(store, live.run_id)

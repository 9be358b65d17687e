"""Retries by policy (a mixin of `Agent`, on the agent thread): a run that ends in a state its
launch's `retry.on` names is launched again as a new item of the same queue, linked to the
first attempt, after the policy's backoff (runners/launch/retry.py)."""

import math
import time

from store import BadInput, RunState, Store


class Retries:
    """Requeues failed attempts; tells the agent when the next backoff ends."""

    def _retry_failed(
        self, store: Store, run_id: str, state: RunState, message: str | None
    ) -> str | None:
        """Called in the transaction that ended the run: the retry is enqueued in it, so nobody
        sees a failed attempt whose retry is missing. Returns the run's message, saying what
        became of it."""
        run = store.runs.get(run_id)
        item = store.items.get(run.item_id)
        policy = item.launch.get("retry")
        if not policy or state.value not in policy["on"]:
            return message
        try:
            queue = store.queues.get(item.queue)
        except BadInput:
            return message  # the queue was deleted meanwhile
        reason = message or state.value
        attempts = policy["max"] + 1
        if item.attempt >= attempts:
            note = f"{reason}; not retried: attempt {item.attempt} of {attempts}"
        else:
            backoff = policy["backoff_seconds"]
            new_item = store.items.enqueue_again(
                item,
                queue.id,
                attempt=item.attempt + 1,
                not_before=time.time() + backoff if backoff else None,
            )
            after = f" in {backoff:g}s" if backoff else ""
            attempt = f"attempt {item.attempt + 1} of {attempts}"
            note = f"{reason}; retrying as item {new_item} ({attempt}){after}"
        store.runs.set_message(run_id, note)
        return note

    def _retry_wake_at(self, store: Store, served: list) -> float:
        """When (time.monotonic()) the next retry of a `served` queue may start; inf if none."""
        ids = [q.id for q in served if not q.paused]
        ends = store.items.next_backoff_end(ids) if ids else None
        if ends is None:
            return math.inf
        return time.monotonic() + max(ends - time.time(), 0.0)

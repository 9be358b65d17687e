"""Cancelling by id: a run id asks its agent to stop the run; an item id cancels the item."""

from runners.agent.waiting import live_agents_serving
from runners.registry import get_runner
from store import BadInput, IllegalTransition, ItemState, Store


def cancel_by_id(store: Store, ident: str) -> str:
    """Cancel a run or a queue item; returns what happened, for the user."""
    if ident.isdigit():
        item = store.items.get(int(ident))
        if item.state in (ItemState.PENDING, ItemState.LEASED):
            store.items.cancel(item.id)
            return f"cancelled item {item.id}"
        if item.run_id is None:
            raise BadInput("ID", f"item {item.id} is {item.state.value}; nothing to cancel")
        ident = item.run_id
    run = store.runs.find(ident)  # a unique prefix will do, as the user types it
    try:
        run = store.runs.request_stop(run.id, "cancel requested by user")
    except IllegalTransition:
        raise BadInput("ID", f"run {run.id} already ended ({run.state.value})") from None
    queue = store.queues.get(run.queue) if run.queue else None
    if queue is not None and not live_agents_serving(store, queue) and run.handle:
        # No agent will act on the request: stop it directly; the next agent records the end.
        runner = get_runner(run.resource)
        grace = (run.spec.get("resource_args") or {}).get("stop_grace_seconds", 10.0)
        try:
            runner.cancel(run.handle, grace)
        except Exception as exc:  # the target unreachable: the next agent sends the stop
            return (
                f"run {run.id} is stopping, but stopping it directly failed ({exc});"
                " start an agent to finish the stop"
            )
        return f"run {run.id} is stopping (no agent is running: signalled it directly)"
    return (
        f"run {run.id} is stopping: its agent stops it (a process or container gets SIGTERM,"
        " then SIGKILL after the grace; a cloud job is cancelled)"
    )

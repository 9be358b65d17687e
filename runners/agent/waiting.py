"""Why each waiting item waits: the answer to "four jobs queued and only one ran"."""

import socket
import time

from runners.system import procinfo
from store import BadInput, Queue, QueueItem, Store

NO_AGENT = "no agent serving this queue (start one: launchbay agent)"


def live_agents(store: Store) -> list:
    """Agents that have not stopped and, on this host, whose process still runs."""
    host = socket.gethostname()
    return [
        record
        for record in store.agents.not_stopped()
        if record.hostname != host or procinfo.is_alive(record.pid, record.pid_start_time)
    ]


def live_agents_serving(store: Store, queue: Queue) -> list:
    return [a for a in live_agents(store) if not a.queues or queue.name in a.queues]


def waiting_reasons(store: Store, queue: Queue) -> list[tuple[QueueItem, str]]:
    """Each pending or leased item of `queue` in dispatch order, with why it is not running."""
    items = store.items.waiting(queue.id)
    if not items:
        return []
    agents = live_agents_serving(store, queue)
    live = len(store.runs.list(queue_id=queue.id, live_only=True))
    result = []
    ahead = 0
    now = time.time()
    for item in items:
        in_backoff = item.not_before is not None and item.not_before > now
        if item.state.value == "leased":
            reason = "leased: an agent is starting it"
        elif in_backoff:
            left = max(1, round(item.not_before - now))
            reason = f"attempt {item.attempt}: a retry, waiting out its backoff ({left}s left)"
        elif queue.paused:
            reason = "queue paused"
        elif not agents:
            reason = NO_AGENT
        elif queue.max_concurrency is not None and live >= queue.max_concurrency:
            reason = f"queue concurrency full ({live}/{queue.max_concurrency} live)"
        elif ahead:
            reason = f"{ahead} item(s) ahead"
        elif (gpus := _waiting_for_gpus(store, queue, item)) is not None:
            reason = gpus
        elif all(a.max_jobs != -1 and _agent_live_runs(store, a.id) >= a.max_jobs for a in agents):
            reason = "max-jobs reached on every agent serving this queue"
        else:
            reason = "next: an agent will take it"
        if item.state.value == "pending" and not in_backoff:
            ahead += 1  # a retry in its backoff holds nobody up
        result.append((item, reason))
    return result


def _agent_live_runs(store: Store, agent_id: str) -> int:
    return len(store.runs.list(agent_id=agent_id, live_only=True))


def _waiting_for_gpus(store: Store, queue: Queue, item: QueueItem) -> str | None:
    """`waiting for 2 GPUs: 1 free (GPU 0 held by run …)` when the head can't have its GPUs."""
    from runners.gpus.placement import place
    from runners.gpus.request import gpu_request
    from runners.gpus.settings import load_gpu_settings, load_inventory
    from runners.protocol import Capability
    from runners.registry import get_runner

    request = gpu_request(item.launch.get("resource_args") or {})
    if request is None or Capability.SHARES_GPUS not in get_runner(queue.resource).capabilities:
        return None
    try:
        settings = load_gpu_settings()
        inventory = load_inventory(settings)
    except BadInput as exc:
        return f"waiting for GPUs: the config file's GPU keys are wrong ({exc})"
    placement = place(request, inventory, store.gpus.held(), settings.gpu_busy_above_mib)
    return placement.waiting

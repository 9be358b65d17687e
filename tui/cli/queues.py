"""`launchbay queue …`: create, update, list, describe, pause, resume, delete."""

import click

from ..timefmt import ago
from .common import db_option, json_option, with_store
from .completion import complete_queues
from .output import print_json, print_table

_COUNTED = ("pending", "leased", "claimed", "failed", "cancelled")


def config_help() -> str:
    """--config's help: the target keys as each resource type declares them."""
    from runners.registry import RESOURCE_TYPES

    targets = "; ".join(
        f"{entry.name}: {', '.join(key.name for key in keys)}"
        for entry in RESOURCE_TYPES
        if (keys := entry.config_keys("target"))
    )
    return (
        "YAML or JSON: resource_args, template_variables; for container queues also"
        " registry and builder; target, where the cluster or cloud is and what a launch may do"
        f" ({targets}); max_resumes, retry, notify, secret_env, backfill, wandb_env (false: runs"
        " get no WANDB_* variables). `launchbay resources TYPE` lists a type's keys with their"
        " help; see the README."
    )


class _ConfigOption(click.Option):
    """--config, whose help is built when it is shown, from what the targets declare."""

    def get_help_record(self, ctx: click.Context):
        self.help = config_help()
        return super().get_help_record(ctx)


@click.group("queue")
@db_option
def queue_group():
    """Launch queues: FIFO lists of work for one target resource."""


check_option = click.option(
    "--check",
    is_flag=True,
    help="Also check that the target's backend answers (a ray queue's address); refused"
    " (exit 2) if it does not.",
)


@queue_group.command("create")
@click.argument("name")
@click.option(
    "--resource",
    "-r",
    required=True,
    metavar="TYPE",
    help="Target resource type or alias (see `launchbay resources`).",
)
@click.option("--config", "-c", "config", metavar="FILE", cls=_ConfigOption)
@click.option(
    "--max-concurrency",
    type=int,
    metavar="N",
    help="At most N runs of this queue live at once (default: no limit).",
)
@check_option
@json_option
@db_option
@with_store
def create_queue(store, name, resource, config, max_concurrency, check, as_json):
    """Create queue NAME for a target resource."""
    from runners.catalog.queues import create_queue

    queue = create_queue(store, name, resource, config, max_concurrency, check_reachable=check)
    if as_json:
        from runners.launch.rendering import redact

        print_json(redact(queue.to_json()))
    else:
        click.echo(f"created queue {queue.name} ({queue.resource})")


@queue_group.command("update")
@click.argument("name")
@click.option("--config", "-c", "config", metavar="FILE", cls=_ConfigOption)
@click.option(
    "--max-concurrency",
    metavar="N",
    help="At most N runs of this queue live at once; 'none' for no limit.",
)
@check_option
@json_option
@db_option
@with_store
def update_queue(store, name, config, max_concurrency, check, as_json):
    """Replace queue NAME's config (checked as at `create`; values shown as *** by `describe`
    keep theirs) and/or its max concurrency: what the app's queue editor saves. Items already
    waiting keep the settings they were enqueued with; an agent checks them again at claim."""
    from runners.catalog.queues import parse_max_concurrency, update_queue
    from runners.launch.documents import load_document
    from store import BadInput

    if config is None and max_concurrency is None:
        raise BadInput(
            "queue update", "nothing to change; expected --config FILE and/or --max-concurrency N"
        )
    document = load_document(config, "--config") if config is not None else None
    limit = (
        ...
        if max_concurrency is None
        else parse_max_concurrency(max_concurrency, "--max-concurrency")
    )
    queue = update_queue(store, name, document, limit, check_reachable=check)
    if as_json:
        from runners.launch.rendering import redact

        print_json(redact(queue.to_json()))
    else:
        click.echo(f"updated queue {queue.name}")


@queue_group.command("list")
@json_option
@db_option
@with_store
def list_queues(store, as_json):
    """List queues with their counts of items by state."""
    queues = store.queues.list()
    counts = store.queues.counts()
    if as_json:
        from runners.launch.rendering import redact

        print_json([redact({**q.to_json(), "counts": _counts(counts, q.id)}) for q in queues])
        return
    print_table(
        ["queue", "resource", "state", "max", "pending", "live runs", "failed", "created"],
        [
            (
                q.name,
                q.resource,
                "paused" if q.paused else "active",
                q.max_concurrency or "-",
                counts.get(q.id, {}).get("pending", 0),
                counts.get(q.id, {}).get("live_runs", 0),
                counts.get(q.id, {}).get("failed", 0),
                ago(q.created_at),
            )
            for q in queues
        ],
        empty="no queues yet: launchbay queue create NAME --resource local-process",
    )


def _counts(counts: dict, queue_id: int) -> dict:
    mine = counts.get(queue_id, {})
    return {
        **{state: mine.get(state, 0) for state in _COUNTED},
        "live_runs": mine.get("live_runs", 0),
    }


@queue_group.command("describe")
@click.argument("name", shell_complete=complete_queues)
@json_option
@db_option
@with_store
def describe_queue(store, name, as_json):
    """Describe a queue, with its waiting items in dispatch order and why each waits."""
    from runners.agent.waiting import waiting_reasons
    from runners.launch.rendering import redact

    queue = store.queues.get(name)
    counts = _counts(store.queues.counts(), queue.id)
    waiting = waiting_reasons(store, queue)
    if as_json:
        print_json(
            redact(
                {
                    **queue.to_json(),
                    "counts": counts,
                    "waiting": [{**item.to_json(), "reason": reason} for item, reason in waiting],
                }
            )
        )
        return
    import yaml

    click.echo(f"queue:            {queue.name}")
    click.echo(f"resource:         {queue.resource}")
    click.echo(f"state:            {'paused' if queue.paused else 'active'}")
    click.echo(f"max concurrency:  {queue.max_concurrency or 'no limit'}")
    click.echo("counts:           " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    click.echo("config:")
    config_yaml = yaml.safe_dump(redact(queue.config), sort_keys=False).rstrip()
    click.echo("  " + config_yaml.replace("\n", "\n  "))
    click.echo("waiting items (dispatch order):")
    print_table(
        ["item", "job", "priority", "state", "enqueued", "waiting because"],
        [
            (item.id, item.job, item.priority.label, item.state.value, ago(item.created_at), reason)
            for item, reason in waiting
        ],
        empty="  (none)",
    )


@queue_group.command("pause")
@click.argument("name", shell_complete=complete_queues)
@db_option
@with_store
def pause_queue(store, name):
    """Stop dispatching from queue NAME (live runs go on)."""
    store.queues.set_paused(name, True)
    click.echo(f"paused queue {name}")


@queue_group.command("resume")
@click.argument("name", shell_complete=complete_queues)
@db_option
@with_store
def resume_queue(store, name):
    """Dispatch from queue NAME again."""
    store.queues.set_paused(name, False)
    click.echo(f"resumed queue {name}")


@queue_group.command("delete")
@click.argument("name", shell_complete=complete_queues)
@db_option
@with_store
def delete_queue(store, name):
    """Delete queue NAME (it must have no waiting items or live runs; its history is kept)."""
    store.queues.delete(name)
    click.echo(f"deleted queue {name}")

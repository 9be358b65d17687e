"""Shell completion of the store's names: jobs, queues and runs (click's completion, enabled
as the README's "Shell completion" says). A completion never fails loudly: an unreadable store
completes nothing."""

from __future__ import annotations

from click.shell_completion import CompletionItem

RECENT_RUNS = 200  # the newest runs offered: an id is typed from the ones a user just saw


def _store(ctx):
    from store import Store

    return Store.open(ctx.find_root().meta.get("launchbay.db"))


def _matching(ctx, incomplete: str, names) -> list[CompletionItem]:
    try:
        store = _store(ctx)
    except Exception:  # no store yet, or unusable: nothing to offer
        return []
    try:
        return [CompletionItem(n, help=h) for n, h in names(store) if n.startswith(incomplete)]
    except Exception:
        return []
    finally:
        store.close()


def complete_jobs(ctx, _param, incomplete: str) -> list[CompletionItem]:
    return _matching(
        ctx,
        incomplete,
        lambda store: [(v.name, f"v{v.version}") for v, _ in store.jobs.list_latest()],
    )


def complete_queues(ctx, _param, incomplete: str) -> list[CompletionItem]:
    return _matching(
        ctx, incomplete, lambda store: [(q.name, q.resource) for q in store.queues.list()]
    )


def complete_runs(ctx, _param, incomplete: str) -> list[CompletionItem]:
    return _matching(
        ctx,
        incomplete,
        lambda store: [
            (r.id, f"{r.job} {r.state.value}") for r in store.runs.list(limit=RECENT_RUNS)
        ],
    )

"""`launchbay runs metrics` and `launchbay runs compare`: what runs reported, for scripts.

Numbers JSON can't hold (NaN, ±inf) are written as the strings "NaN", "Infinity" and
"-Infinity" in --json, and as `nan`, `inf`, `-inf` in --csv.
"""

import click

from .common import db_option, json_option, with_store
from .completion import complete_runs
from .output import note, print_json, print_table


@click.command("metrics")
@click.argument("run_id", shell_complete=complete_runs)
@click.option(
    "--key", "-k", "keys", multiple=True, metavar="K", help="Only this metric (repeatable)."
)
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print the points as CSV: key,step,time,value.")
@db_option
@with_store
def metrics_command(store, run_id, keys, as_json, as_csv):
    """A run's metrics: a summary of each (text), or every point (--json, --csv)."""
    from store import BadInput

    if as_json and as_csv:
        raise BadInput("--json/--csv", "both given; expected one of them at most")
    run = store.runs.find(run_id)
    known = store.metrics.keys(run.id)
    chosen = _chosen_keys(run.id, known, keys)
    summaries = store.metrics.summaries([run.id], chosen).get(run.id, {})
    malformed, dropped = store.metrics.malformed(run.id), store.metrics.dropped(run.id)
    if as_json:
        print_json(
            {
                "run": run.id,
                "metrics": {
                    key: {
                        **summaries[key].to_json(),
                        "points": [_point_json(p) for p in store.metrics.points(run.id, key)],
                    }
                    for key in chosen
                },
                "malformed": malformed,
                "dropped": dropped,
            }
        )
        return
    if as_csv:
        _print_csv(store, run.id, chosen)
        return
    print_table(
        ["metric", "count", "last", "min", "max", "last step"],
        [
            (key, s.count, _number(s.last), _number(s.min), _number(s.max), s.last_step)
            for key, s in ((key, summaries[key]) for key in chosen)
        ],
        empty=f"run {run.id} has reported no metrics",
    )
    _warn(run.id, malformed, dropped)


def _chosen_keys(run_id: str, known: list[str], asked: tuple[str, ...]) -> list[str]:
    from store import BadInput

    for key in asked:
        if key not in known:
            have = ", ".join(known[:20]) + (" …" if len(known) > 20 else "") or "none"
            raise BadInput("--key", f"run {run_id} has no metric {key!r}; it has: {have}")
    return list(dict.fromkeys(asked)) if asked else known


def _print_csv(store, run_id: str, keys: list[str]) -> None:
    import csv
    import sys

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["key", "step", "time", "value"])
    for key in keys:
        for point in store.metrics.points(run_id, key):
            writer.writerow([key, point.step, point.at, repr(point.value)])


def _point_json(point) -> dict:
    from store.metrics import json_number

    return {"step": point.step, "time": point.at, "value": json_number(point.value)}


def _number(value: float) -> str:
    return f"{value:.6g}"


def _warn(run_id: str, malformed: int, dropped: int) -> None:
    from store.metrics import MAX_KEYS_PER_RUN

    if malformed:
        note(f"warning: run {run_id}: {malformed} malformed metric record(s) skipped")
    if dropped:
        note(
            f"warning: run {run_id}: {dropped} point(s) dropped: a run keeps at most"
            f" {MAX_KEYS_PER_RUN} metrics"
        )


@click.command("compare")
@click.argument("run_ids", nargs=-1, metavar="RUN RUN…", shell_complete=complete_runs)
@json_option
@db_option
@with_store
def compare_command(store, run_ids, as_json):
    """Runs side by side: the config keys that differ, and each metric's last/min/max."""
    from store import BadInput

    ids = list(dict.fromkeys(store.runs.find(text).id for text in run_ids))
    if len(ids) < 2:
        raise BadInput("RUN", f"{len(ids)} distinct run(s) given; expected two or more")
    from runners.metrics.compare import config_diff

    runs = [store.runs.get(run_id) for run_id in ids]
    differing = config_diff({run.id: run.spec.get("run_config") or {} for run in runs})
    summaries = store.metrics.summaries(ids)
    keys = sorted({key for per_run in summaries.values() for key in per_run})
    if as_json:
        print_json(
            {
                "runs": ids,
                "config": differing,
                "metrics": {
                    key: {
                        run_id: (
                            summaries[run_id][key].to_json()
                            if key in summaries.get(run_id, {})
                            else None
                        )
                        for run_id in ids
                    }
                    for key in keys
                },
            }
        )
        return
    print_table(
        ["config", *ids],
        [
            (key, *(_shown(values.get(i, _MISSING)) for i in ids))
            for key, values in differing.items()
        ],
        empty="config: the same in every run",
    )
    click.echo()
    print_table(
        ["metric (last, min…max)", *ids],
        [(key, *(_summary_cell(summaries.get(i, {}).get(key)) for i in ids)) for key in keys],
        empty="metrics: none reported",
    )


_MISSING = object()


def _shown(value) -> str:
    import json

    return "-" if value is _MISSING else json.dumps(value)


def _summary_cell(summary) -> str:
    if summary is None:
        return "-"
    return f"{_number(summary.last)} ({_number(summary.min)}…{_number(summary.max)})"

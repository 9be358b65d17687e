"""`launchbay sweep …`: create, list, describe, pause, resume, stop. The agent serving the
sweep's queue runs its trials (runners/sweeps/controller.py)."""

import math

import click

from .common import db_option, json_option, with_store
from .output import note, print_json, print_table


@click.group("sweep")
@db_option
def sweep_group():
    """Sweeps: grid, random or Bayesian searches over a job's run config (W&B's format)."""


@sweep_group.command("create")
@click.option("--job", "-j", required=True, metavar="JOB", help="NAME, NAME:vN or NAME:ALIAS.")
@click.option("--queue", "-q", required=True, metavar="QUEUE", help="Queue the trials go on.")
@click.option(
    "--config",
    "-c",
    required=True,
    metavar="FILE",
    help="Sweep config (W&B's format, YAML or JSON): method, metric, parameters,"
    " early_terminate, run_cap; launchbay's optuna: {sampler, pruner} and seed.",
)
@click.option(
    "--parallel",
    "-p",
    type=click.IntRange(1, 10_000),
    default=1,
    show_default=True,
    metavar="N",
    help="Trials in flight at once.",
)
@click.option("--name", metavar="NAME", help="Default: the config's name, else JOB-METHOD.")
@click.option(
    "--priority",
    "-P",
    default="medium",
    show_default=True,
    type=click.Choice(["critical", "high", "medium", "low"], case_sensitive=False),
    help="Priority of the trials' queue items.",
)
@json_option
@db_option
@with_store
def create_sweep_command(store, job, queue, config, parallel, name, priority, as_json):
    """Create a sweep of JOB on QUEUE; prints its id (WANDB_SWEEP_ID in its runs)."""
    from runners.sweeps.create import create_sweep

    sweep = create_sweep(
        store, job=job, queue=queue, config=config, parallel=parallel, name=name, priority=priority
    )
    if as_json:
        print_json(sweep.to_json())
        return
    click.echo(sweep.id)
    note(
        f"created sweep {sweep.name} ({sweep.config['method']}) of {sweep.job} on {sweep.queue};"
        " an agent serving the queue runs its trials"
    )


@sweep_group.command("list")
@json_option
@db_option
@with_store
def list_sweeps(store, as_json):
    """Sweeps, newest first, with their trial counts and best objective."""
    from runners.sweeps import analysis

    sweeps = store.sweeps.list()
    summaries = [(s, analysis.summary(s, store.sweeps.trials(s.id))) for s in sweeps]
    if as_json:
        print_json([{**sweep.to_json(), **summary} for sweep, summary in summaries])
        return
    print_table(
        ["id", "name", "method", "state", "trials", "live", "best"],
        [
            (
                sweep.id,
                sweep.name,
                sweep.config.get("method"),
                sweep.state,
                summary["trial_count"],
                summary["live"],
                _number(summary["best"]["objective"]) if summary["best"] else None,
            )
            for sweep, summary in summaries
        ],
        empty="(no sweeps)",
    )


@sweep_group.command("describe")
@click.argument("sweep")
@json_option
@db_option
@with_store
def describe_sweep(store, sweep, as_json):
    """One sweep: its config, its trials best first (by objective), and the best one."""
    found = store.sweeps.get(sweep)
    trials = store.sweeps.trials(found.id)
    from runners.sweeps import analysis

    summary = analysis.summary(found, trials)
    ordered = analysis.best_first(found, trials)
    if as_json:
        print_json({**found.to_json(), **summary, "trials": [t.to_json() for t in ordered]})
        return
    metric = (found.config.get("metric") or {}).get("name")
    click.echo(f"sweep {found.id} ({found.name}): {found.state}")
    click.echo(f"  job {found.job} on queue {found.queue}, parallel {found.parallel}")
    click.echo(f"  method {found.config.get('method')}, metric {metric or '-'}, seed {found.seed}")
    if found.message:
        click.echo(f"  {found.message}")
    if summary["best"]:
        click.echo(f"  best: trial {summary['best']['number']} {summary['best']['params']}")
    print_table(
        ["trial", "state", "objective", "run", "params"],
        [(t.number, t.state, _number(t.objective), t.run_id, _flat(t.params)) for t in ordered],
        empty="(no trials yet)",
    )


def _set_state(store, sweep, state, verb):
    found = store.sweeps.get(sweep)
    if state == "running" and found.state != "paused":
        from store import BadInput

        raise BadInput("SWEEP", f"sweep {found.id} is {found.state}; only a paused one resumes")
    store.sweeps.set_state(found.id, state)
    click.echo(f"{verb} sweep {found.id}")


@sweep_group.command("pause")
@click.argument("sweep")
@db_option
@with_store
def pause_sweep(store, sweep):
    """Enqueue no new trials (those in flight go on)."""
    _set_state(store, sweep, "paused", "paused")


@sweep_group.command("resume")
@click.argument("sweep")
@db_option
@with_store
def resume_sweep(store, sweep):
    """Enqueue trials again."""
    _set_state(store, sweep, "running", "resumed")


@sweep_group.command("stop")
@click.argument("sweep")
@db_option
@with_store
def stop_sweep(store, sweep):
    """End the sweep: no new trials, its waiting ones cancelled (running ones finish)."""
    _set_state(store, sweep, "stopped", "stopped")


def _number(value):
    if value is None:
        return None
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def _flat(params, prefix=""):
    parts = []
    for key, value in params.items():
        if isinstance(value, dict):
            parts.append(_flat(value, f"{prefix}{key}."))
        else:
            parts.append(f"{prefix}{key}={_number(value) if isinstance(value, float) else value}")
    return " ".join(parts)

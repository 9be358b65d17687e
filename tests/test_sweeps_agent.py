"""Sweeps run by a real agent on real local-process jobs that report the JSONL protocol: every
grid combination once, WANDB_SWEEP_ID and the parameters in each run, parallel respected,
pruned trials stopped (and only those), failed trials failed, a SIGKILLed agent's sweep ended
by its successor with every trial exactly once."""

import json
import signal

import pytest
from kit import agent_process, make_code_job, make_queue, run_agent, wait_for

from runners.sweeps.create import create_sweep

pytestmark = pytest.mark.slow

# Reports loss = (x - 3)² + (y + 1)² once, with what the sweep gave it.
QUADRATIC = """
import json, os
config = json.loads(os.environ["LAUNCHBAY_CONFIG"])
loss = (config["x"] - 3) ** 2 + (config.get("y", -1) + 1) ** 2
with open(os.environ["LAUNCHBAY_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"loss": loss, "step": 0}) + "\\n")
print("SWEEP", os.environ.get("WANDB_SWEEP_ID"), json.dumps(config, sort_keys=True), flush=True)
if config.get("fail"):
    raise SystemExit(3)
"""

# A training curve: loss = q + 1/(step+1) for steps 0..9, then a hold before it ends, so the
# agent sees the curve while the run still runs.
CURVE = """
import json, os, time
config = json.loads(os.environ["LAUNCHBAY_CONFIG"])
with open(os.environ["LAUNCHBAY_METRICS_FILE"], "a") as f:
    for step in range(10):
        f.write(json.dumps({"loss": config["q"] + 1 / (step + 1), "step": step}) + "\\n")
        f.flush()
time.sleep(float(os.environ.get("HOLD", "4")))
"""

SCHEMA = {
    "type": "object",
    "properties": {
        "x": {"type": "number", "minimum": -10, "maximum": 10},
        "y": {"type": "number"},
        "q": {"type": "number"},
        "fail": {"type": "boolean", "default": False},
    },
}


def _schema(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    return str(path)


def _job(store, tmp_path, script=QUADRATIC, name="quad", hold="4"):
    make_queue(store, config={"resource_args": {"env": {"HOLD": hold}}})
    return make_code_job(store, tmp_path, name, script, schema_path=_schema(tmp_path))


def _log(store, run_id):
    return store.run_log_path(run_id).read_text()


def test_a_grid_sweep_runs_every_combination_once_with_the_sweep_id_and_its_params(
    store, db_path, tmp_path, cli
):
    _job(store, tmp_path)
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [1, 3, 5]}, "y": {"values": [-1, 0]}},
    }
    sweep = create_sweep(store, job="quad", queue="local", config=config, parallel=2)
    run_agent(db_path, max_jobs=4)

    trials = store.sweeps.trials(sweep.id)
    assert sorted((t.params["x"], t.params["y"]) for t in trials) == sorted(
        (x, y) for x in (1, 3, 5) for y in (-1, 0)
    )
    assert {t.state for t in trials} == {"finished"}
    for trial in trials:
        run = store.runs.get(trial.run_id)
        assert run.spec["env"]["WANDB_SWEEP_ID"] == sweep.id
        assert run.spec["run_config"]["x"] == trial.params["x"]
        assert f"SWEEP {sweep.id} " in _log(store, run.id)
        assert trial.objective == (trial.params["x"] - 3) ** 2 + (trial.params["y"] + 1) ** 2
    assert store.sweeps.get(sweep.id).state == "finished"
    # parallel 2: never more than two trials' runs live at once
    events = store.conn.execute(
        "SELECT r.started_at, r.ended_at FROM runs r JOIN sweep_trials t ON t.item_id = r.item_id"
    ).fetchall()
    for start, _ in events:
        assert sum(1 for s, e in events if s <= start < e) <= 2

    described = json.loads(cli("sweep", "describe", sweep.id, "--json").out)
    assert described["best"]["params"] == {"x": 3, "y": -1}
    assert described["best"]["objective"] == 0
    assert [t["objective"] for t in described["trials"]] == sorted(t.objective for t in trials)
    listed = json.loads(cli("sweep", "list", "--json").out)
    assert listed[0]["id"] == sweep.id and listed[0]["trial_count"] == 6
    text = cli("sweep", "describe", sweep.name).out.splitlines()
    assert text[0] == f"sweep {sweep.id} ({sweep.name}): finished"
    assert "best: trial" in text[4] and "'x': 3, 'y': -1" in text[4]
    assert text[6].split()[1:3] == ["finished", "0"] and text[6].endswith("x=3 y=-1")
    table = cli("sweep", "list").out.splitlines()
    assert table[1].split() == [sweep.id, sweep.name, "grid", "finished", "6", "0", "0"]


def test_a_failed_trial_is_recorded_failed_not_as_an_objective(store, db_path, tmp_path):
    _job(store, tmp_path)
    config = {
        "method": "grid",
        "metric": {"name": "loss"},
        "parameters": {"x": {"value": 3}, "fail": {"values": [False, True]}},
    }
    sweep = create_sweep(store, job="quad", queue="local", config=config)
    run_agent(db_path)
    ok, failed = store.sweeps.trials(sweep.id)
    assert (ok.state, ok.objective) == ("finished", 0)
    assert failed.state == "failed" and failed.objective is None
    assert "failed" in failed.message


@pytest.mark.parametrize(
    "pruning",
    [
        {"early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2}},
        {"optuna": {"pruner": {"type": "median", "n_startup_trials": 2}}},
    ],
    ids=["hyperband", "median"],
)
def test_pruning_stops_the_trials_whose_curve_is_worse_and_only_those(
    store, db_path, tmp_path, pruning
):
    _job(store, tmp_path, CURVE, "curve")
    # One at a time, in this order: two good curves first, then a bad one, a good one, a bad one.
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"q": {"values": [0, 1, 5, 0.2, 6]}},
        **pruning,
    }
    sweep = create_sweep(store, job="curve", queue="local", config=config)
    run_agent(db_path)
    by_q = {t.params["q"]: t for t in store.sweeps.trials(sweep.id)}
    assert {q for q, t in by_q.items() if t.state == "pruned"} == {5, 6}
    assert {q for q, t in by_q.items() if t.state == "finished"} == {0, 1, 0.2}
    for q in (5, 6):
        run = store.runs.get(by_q[q].run_id)
        assert run.state.value == "stopped"
        assert run.message == f"pruned at step {by_q[q].pruned_step}"


def test_a_sigkilled_agent_leaves_no_trial_lost_or_twice_and_the_sweep_ends_at_run_cap(
    store, db_path, tmp_path
):
    _job(store, tmp_path, CURVE, "curve", hold="0.3")
    config = {
        "method": "random",
        "seed": 7,
        "metric": {"name": "loss"},
        "run_cap": 8,
        "parameters": {"q": {"min": 0.0, "max": 1.0}},
    }
    sweep = create_sweep(store, job="curve", queue="local", config=config, parallel=2)
    first = agent_process(db_path, "local", "-j", "2")
    try:
        wait_for(lambda: len(store.sweeps.trials(sweep.id)) >= 4, 60, "four trials enqueued")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    second = agent_process(db_path, "local", "-j", "2", "--until-empty")
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 0, output

    trials = store.sweeps.trials(sweep.id)
    assert [t.number for t in trials] == list(range(8))
    assert {t.state for t in trials} == {"finished"}, [(t.state, t.message) for t in trials]
    assert len({t.item_id for t in trials}) == 8
    # each trial's item ran once: a run the dead agent left running was adopted, not run again
    # (one it had claimed but not started went back in line, that run marked never started)
    for trial in trials:
        runs = store.conn.execute(
            "SELECT id, state, error_message FROM runs WHERE item_id = ?", (trial.item_id,)
        ).fetchall()
        ran = [r for r in runs if r["error_message"] != "the agent died between claim and start"]
        assert [r["state"] for r in ran] == ["finished"], [dict(r) for r in runs]
    # the same seed draws the same values, whichever agent drew them
    from runners.sweeps.config import parse_sweep_config
    from runners.sweeps.search import RandomSearch

    drawn = RandomSearch(parse_sweep_config(config), 7)
    assert [t.params["q"] for t in trials] == [drawn.suggest(n)["q"] for n in range(8)]
    assert store.sweeps.get(sweep.id).state == "finished"


def test_an_agent_killed_right_after_enqueuing_a_trial_leaves_it_recorded_and_run_once(
    store, db_path, tmp_path
):
    _job(store, tmp_path)
    config = {
        "method": "bayes",
        "seed": 2,
        "metric": {"name": "loss"},
        "run_cap": 5,
        "parameters": {"x": {"min": 0.0, "max": 5.0}},
    }
    sweep = create_sweep(store, job="quad", queue="local", config=config, parallel=2)
    crashed = agent_process(db_path, "local", crash_at="sweep-enqueued")
    crashed.communicate(timeout=60)
    assert crashed.returncode == -signal.SIGKILL
    (first,) = store.sweeps.trials(sweep.id)  # recorded with its item, nothing more
    assert store.items.get(first.item_id).state.value == "pending"
    done = agent_process(db_path, "local", "-j", "2", "--until-empty")
    output, _ = done.communicate(timeout=120)
    assert done.returncode == 0, output
    trials = store.sweeps.trials(sweep.id)
    assert [t.number for t in trials] == list(range(5))
    assert trials[0].suggested == first.suggested  # asked again as it was, not redrawn
    assert {t.state for t in trials} == {"finished"}
    runs = store.conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT item_id) FROM runs WHERE item_id IN"
        " (SELECT item_id FROM sweep_trials)"
    ).fetchone()
    assert tuple(runs) == (5, 5)


def test_a_bayes_sweep_end_to_end_finds_a_better_best_than_random_with_the_same_seed(
    store, db_path, tmp_path
):
    _job(store, tmp_path)
    base = {
        "seed": 1,
        "metric": {"name": "loss", "goal": "minimize"},
        "run_cap": 20,
        "parameters": {"x": {"min": 0.0, "max": 5.0}, "y": {"min": -3.0, "max": 1.0}},
    }
    # parallel 1: each suggestion knows every result before it, so both runs are repeatable
    searched = {
        method: create_sweep(store, job="quad", queue="local", config={"method": method, **base})
        for method in ("random", "bayes")
    }
    run_agent(db_path)
    best = {}
    for method, sweep in searched.items():
        trials = store.sweeps.trials(sweep.id)
        assert len(trials) == 20 and {t.state for t in trials} == {"finished"}
        best[method] = min(t.objective for t in trials)
    assert best["bayes"] < best["random"], best


def test_the_sweeps_bench_runs_its_quick_form_and_reports_each_figure():
    from kit import bench_results

    lines = bench_results("sweeps.py")
    assert set(lines) == {
        "sweep_overhead_grid_ms",
        "sweep_overhead_random_ms",
        "sweep_overhead_tpe_ms",
        "sweep_vs_launches_ratio",
    }
    ratio = lines["sweep_vs_launches_ratio"]
    assert ratio["runs"] == 100 and ratio["sweep_s"] > 0 and ratio["launches_s"] > 0

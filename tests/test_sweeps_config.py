"""Sweep configs at `sweep create`: W&B's own examples accepted as they are; bad configs and
parameters outside the job's input schema refused in one line naming the field (exit 2, store
unchanged); pause, resume and stop."""

import json
from pathlib import Path

import pytest
from kit import make_code_job, make_queue, refusal_checker

CONFIGS = Path(__file__).parent / "sweep_configs"

SCHEMA = {
    "type": "object",
    "properties": {
        "lr": {"type": "number", "minimum": 0, "maximum": 1},
        "layers": {"type": "integer", "minimum": 1, "maximum": 8},
        "optimizer": {"type": "string", "enum": ["adam", "sgd"]},
        "model": {"type": "object", "properties": {"depth": {"type": "integer"}}},
    },
}


@pytest.fixture
def jobs(store, tmp_path):
    """`free` (no input schema) and `typed` (SCHEMA) on queue `local`."""
    make_queue(store)
    make_code_job(store, tmp_path, "free", "pass")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    make_code_job(store, tmp_path, "typed", "pass", schema_path=str(schema))


def _write(tmp_path, config: dict) -> str:
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(config))
    return str(path)


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_the_sweep_configs_of_wandbs_docs_are_accepted_as_they_are(jobs, cli, name, store):
    created = cli("sweep", "create", "-j", "free", "-q", "local", "-c", str(CONFIGS / name))
    assert created.code == 0, created.err
    sweep = store.sweeps.get(created.out.strip())
    assert sweep.state == "running" and sweep.config["method"] in ("grid", "random", "bayes")
    described = json.loads(cli("sweep", "describe", sweep.id, "--json").out)
    assert described["trials"] == [] and described["parallel"] == 1


GOOD = {"method": "random", "metric": {"name": "loss"}, "parameters": {"lr": {"values": [0.1]}}}


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"method": "hill_climb"}, "method: 'hill_climb'; expected one of grid, random, bayes"),
        ({"parameters": {"lr": {"values": []}}}, "parameters.lr.values: is empty"),
        ({"parameters": {"lr": {"min": 0.5, "max": 0.1}}}, "parameters.lr.min: 0.5 is greater"),
        ({"metric": {"name": "loss", "goal": "lower"}}, "metric.goal: 'lower'; expected minimize"),
        ({"run_cap": 0}, "run_cap: 0; expected a whole number of 1 or more"),
        ({"parameters": {"momentum": {"values": [0.9]}}}, "parameters.momentum: is not in the job"),
        (
            {"parameters": {"lr": {"values": [0.1, 2]}}},
            "parameters.lr.values[1]: expected a number between 0 and 1, got 2",
        ),
        (
            {"parameters": {"lr": {"min": 0.0, "max": 3.0}}},
            "parameters.lr.max: expected a number between 0 and 1, got 3.0",
        ),
        ({"parameters": {"layers": {"min": 1.0, "max": 4.0}}}, "parameters.layers.distribution"),
        ({"parameters": {"optimizer": {"values": ["adam", "rmsprop"]}}}, "values[1]"),
        (
            {"parameters": {"model": {"parameters": {"width": {"value": 3}}}}},
            "parameters.model.parameters.width: is not in the job",
        ),
        ({"parameters": {"lr": {"distribution": "cauchy", "min": 0, "max": 1}}}, "distribution"),
        ({"method": "bayes", "parameters": {"lr": {"distribution": "normal"}}}, "bounded"),
        ({"method": "grid", "parameters": {"lr": {"min": 0.0, "max": 1.0}}}, "grid needs"),
        ({"metric": None, "method": "bayes"}, "metric: is missing"),
        ({"early_terminate": {"type": "hyperband"}}, "early_terminate: expected min_iter"),
        ({"early_terminate": {"type": "asha", "min_iter": 3}}, "early_terminate.type"),
        ({"optuna": {"pruner": {"type": "median", "warmup": 3}}}, "optuna.pruner:"),
        ({"optuna": {"sampler": "annealing"}}, "optuna.sampler.type: 'annealing'"),
        ({"paramters": {}}, "paramters: is not a sweep config key"),
        ({"parameters": {"lr": {"values": ["${env:HOME}"]}}}, "parameters.lr"),
    ],
)
def test_a_bad_sweep_config_is_refused_in_one_line_naming_the_field(
    jobs, cli, db_path, tmp_path, change, fragment
):
    config = {key: value for key, value in {**GOOD, **change}.items() if value is not None}
    refuse = refusal_checker(cli, db_path)
    refuse(
        ["sweep", "create", "-j", "typed", "-q", "local", "-c", _write(tmp_path, config)], fragment
    )


def test_bad_sweep_commands_are_refused_in_one_line(jobs, cli, db_path, tmp_path):
    refuse = refusal_checker(cli, db_path)
    path = _write(tmp_path, GOOD)
    refuse(["sweep", "create", "-j", "typed", "-q", "nope", "-c", path], "nope")
    refuse(["sweep", "create", "-j", "typed", "-q", "local", "-c", path, "-p", "0"], "--parallel")
    refuse(["sweep", "create", "-j", "typed", "-q", "local", "-c", str(tmp_path / "x.yaml")], "-c")
    refuse(["sweep", "describe", "zzzzzzzz"], "zzzzzzzz")
    created = cli("sweep", "create", "-j", "typed", "-q", "local", "-c", path)
    refuse(["sweep", "resume", created.out.strip()], "only a paused one resumes")


def test_pause_resume_and_stop_change_what_the_controller_may_do(jobs, cli, store, tmp_path):
    created = cli("sweep", "create", "-j", "typed", "-q", "local", "-c", _write(tmp_path, GOOD))
    sweep_id = created.out.strip()
    assert cli("sweep", "pause", sweep_id).code == 0
    assert store.sweeps.get(sweep_id).state == "paused"
    # a paused sweep adds no trial
    assert store.sweeps.add_trial(store.sweeps.get(sweep_id), 0, {}, {}, {}) is None
    assert cli("sweep", "resume", sweep_id).code == 0
    sweep = store.sweeps.get(sweep_id)
    item_id = store.sweeps.add_trial(sweep, 0, {"lr": 0.1}, {"lr": 0}, {"run_config": {}})
    assert item_id is not None
    # the same trial number is never recorded twice
    assert store.sweeps.add_trial(sweep, 0, {"lr": 0.1}, {"lr": 0}, {"run_config": {}}) is None
    assert cli("sweep", "stop", sweep_id).code == 0
    assert store.sweeps.get(sweep_id).state == "stopped"
    assert store.items.get(item_id).state.value == "cancelled"  # its waiting trial cancelled
    listed = json.loads(cli("sweep", "list", "--json").out)
    assert [(s["id"], s["state"], s["trial_count"]) for s in listed] == [(sweep_id, "stopped", 1)]


def test_sweep_commands_load_neither_optuna_nor_textual_unless_a_sweep_needs_optuna(
    jobs, db_path, tmp_path
):
    from kit import modules_loaded_by_cli

    path = _write(tmp_path, GOOD)
    db = ["--db", str(db_path)]
    commands = [
        [*db, "sweep", "create", "-j", "typed", "-q", "local", "-c", path],
        [*db, "sweep", "list"],
        [*db, "sweep", "describe", "typed-random"],
    ]
    assert modules_loaded_by_cli(commands, ("optuna", "textual", "sqlalchemy")) == []
    bayes = _write(tmp_path, {**GOOD, "method": "bayes"})
    bayes_create = [[*db, "sweep", "create", "-j", "typed", "-q", "local", "-c", bayes]]
    assert "optuna" in modules_loaded_by_cli(bayes_create, ("optuna",))

"""`additionalProperties` in a job's input schema: with `true`, run_config keys the schema does
not list are accepted and reach the run; without it (or with `false`), they are refused as
bad input, naming the key."""

import json

import pytest
from kit import make_code_job, make_queue, refusal_checker

from store import Store

PROPERTIES = {"lr": {"type": "number", "default": 0.1}}
OPEN = {"type": "object", "properties": PROPERTIES, "additionalProperties": True}
CLOSED = {"type": "object", "properties": PROPERTIES}
SHUT = {**CLOSED, "additionalProperties": False}
# Open at the top only: a nested object keeps its own rule.
NESTED = {
    "type": "object",
    "additionalProperties": True,
    "properties": {"optim": {"type": "object", "properties": PROPERTIES}},
}


@pytest.fixture
def schema_jobs(db_path, tmp_path):
    store = Store.open(db_path)
    try:
        for name, schema in (
            ("open", OPEN),
            ("closed", CLOSED),
            ("shut", SHUT),
            ("nested", NESTED),
        ):
            path = tmp_path / f"{name}.json"
            path.write_text(json.dumps(schema))
            make_code_job(store, tmp_path, name, "print('hi')\n", schema_path=str(path))
        make_queue(store, "local")
    finally:
        store.close()


def _launch(job: str, run_config: dict, *extra: str) -> list[str]:
    spec = json.dumps({"overrides": {"run_config": run_config}})
    return ["launch", "-j", job, "-q", "local", "-c", spec, *extra]


def test_additional_properties_true_accepts_and_passes_on_unlisted_keys(schema_jobs, cli):
    result = cli(*_launch("open", {"lr": 0.5, "warmup": 100, "notes": {"a": [1]}}, "--dry-run"))
    assert result.code == 0, result.err
    spec = json.loads(result.out)
    assert spec["run_config"] == {"lr": 0.5, "warmup": 100, "notes": {"a": [1]}}
    assert json.loads(spec["env"]["LAUNCHBAY_CONFIG"])["warmup"] == 100


def test_an_enqueued_launch_keeps_the_unlisted_keys(schema_jobs, cli, db_path):
    result = cli(*_launch("open", {"warmup": 100}))
    assert result.code == 0, result.err
    store = Store.open(db_path)
    try:
        (item,) = store.items.waiting(store.queues.get("local").id)
        assert item.launch["run_config"] == {"lr": 0.1, "warmup": 100}
    finally:
        store.close()


@pytest.mark.parametrize("job", ["closed", "shut"])
def test_without_additional_properties_an_unlisted_key_is_refused(schema_jobs, cli, db_path, job):
    refusal_checker(cli, db_path)(
        _launch(job, {"lr": 0.5, "warmup": 100}),
        "run_config.warmup",
        "is not in the job's input schema; expected one of lr",
    )


def test_additional_properties_applies_to_its_own_object_only(schema_jobs, cli, db_path):
    accepted = cli(*_launch("nested", {"extra": 1, "optim": {"lr": 0.2}}, "--dry-run"))
    assert accepted.code == 0, accepted.err
    refusal_checker(cli, db_path)(
        _launch("nested", {"optim": {"lr": 0.2, "momentum": 0.9}}),
        "run_config.optim.momentum",
        "is not in the job's input schema",
    )

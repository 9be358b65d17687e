"""Real W&B job input schemas (tests/wandb_corpus/schemas/, each file says where it comes from),
used as a W&B user would: `job create --schema FILE`, then `launch` with a good run config
(enqueued with the schema's defaults filled in) and with bad ones (refused: exit 2, one line
naming the field and what was expected, nothing enqueued).

W&B itself never validates a run config against these schemas (its docs: "Job input schemas
are not used to validate inputs"; its SDK only warns about keywords its launch drawer cannot
show); launchbay does, so each file is also a test of the messages."""

import json
from pathlib import Path

import pytest
import yaml
from kit import make_queue, refusal_checker, write_code_job
from schema_models import TRAIN_CONFIG_DEFAULTS, Schema, TrainConfig

CORPUS = Path(__file__).parent / "wandb_corpus" / "schemas"
TRAINER = {"learning_rate": 0.01, "batch_size": 64, "dataset": "cifar10"}

# file → (a good run config, the run config the job then gets, [(a bad one, its line)…])
CASES = {
    "docs_json_schema.yaml": (
        {"seed": 42, "trainer": TRAINER},
        {"seed": 42, "trainer": TRAINER},
        [
            (
                {"trainer": {"learning_rate": 0}},
                "run_config.trainer.learning_rate: expected a number > 0, got 0",
            ),
            (
                {"trainer": {"batch_size": 32}},
                "run_config.trainer.batch_size: expected one of 16, 64, 256, got 32",
            ),
            (
                {"trainer": {"private": {"key": "value"}}},
                "run_config.trainer.private: is not in the job's input schema;"
                " expected one of learning_rate, batch_size, dataset",
            ),
        ],
    ),
    "pydantic_docs_model.yaml": (
        {"seed": 42, "trainer": TRAINER},
        {"seed": 42, "trainer": TRAINER},
        [
            (
                {"seed": 1, "trainer": {**TRAINER, "dataset": "mnist"}},
                "run_config.trainer.dataset: expected one of 'cifar10', 'cifar100', got 'mnist'",
            ),
            ({"trainer": TRAINER}, "run_config.seed: is required but missing"),
            (
                {"seed": 1, "trainer": {**TRAINER, "batch_size": 512}},
                "run_config.trainer.batch_size: expected an integer between 1 and 256, got 512",
            ),
        ],
    ),
    "pydantic_train_config.yaml": (
        {"lr": 0.01, "scheduler": {"warmup_steps": 100}, "augment": {"crop": 32}, "tags": ["a"]},
        {
            **TRAIN_CONFIG_DEFAULTS,
            "lr": 0.01,
            "scheduler": {"kind": "cosine", "warmup_steps": 100},
            "augment": {"flip": True, "crop": 32},
            "tags": ["a"],
        },
        [
            ({"lr": 0}, "run_config.lr: expected a number > 0, got 0"),
            ({"epochs": 0}, "run_config.epochs: expected an integer between 1 and 1000, got 0"),
            ({"optimizer": "adamw"}, "run_config.optimizer: expected one of 'adam', 'sgd'"),
            ({"precision": "int8"}, "run_config.precision: expected one of 'fp32', 'bf16'"),
            ({"seed": "x"}, "run_config.seed: expected an integer or null, got 'x'"),
            (
                {"run_name": "Big Run"},
                "run_config.run_name: expected a string of at least 3 characters matching"
                " '^[a-z0-9-]+$', got 'Big Run'",
            ),
            ({"layers": [64, "wide"]}, "run_config.layers[1]: expected an integer, got 'wide'"),
            (
                {"augment": {"crop": 4}},
                "run_config.augment.crop: expected an integer ≥ 8 or null, got 4",
            ),
            (
                {"scheduler": {"kind": "linear"}},
                "run_config.scheduler.kind: expected one of 'cosine', 'step', got 'linear'",
            ),
            (
                {"scheduler": 5},
                "run_config.scheduler: expected a mapping (Scheduler) or null, got 5",
            ),
            ({"lr_rate": 0.1}, "run_config.lr_rate: is not in the job's input schema"),
        ],
    ),
    "wandb_test_internal_pydantic.yaml": (
        {"trainer": {**TRAINER, "dataset": "cifar100"}},
        {"trainer": {**TRAINER, "dataset": "cifar100"}},
        [
            (
                {"trainer": {**TRAINER, "batch_size": 0}},
                "run_config.trainer.batch_size: expected an integer between 1 and 256, got 0",
            ),
            (
                {"trainer": {**TRAINER, "dataset": "mnist"}},
                "run_config.trainer.dataset: expected one of 'cifar10', 'cifar100', got 'mnist'",
            ),
        ],
    ),
    "wandb_test_internal_inlined.yaml": (
        {"trainer": TRAINER},
        {"trainer": TRAINER},
        [
            ({}, "run_config.trainer: is required but missing"),
            (
                {"trainer": {"learning_rate": 0.1, "batch_size": 8}},
                "run_config.trainer.dataset: is required but missing",
            ),
        ],
    ),
    "wandb_test_validate_all_keys.yaml": (
        {"key1": 5, "key2": 3, "key3": {"key3": "value-1", "key4": 4, "key5": True}},
        {"key1": 5, "key2": 3, "key3": {"key3": "value-1", "key4": 4, "key5": True}},
        [
            ({"key1": 6}, "run_config.key1: expected an integer ≥ 3 and < 6.0, got 6"),
            ({"key2": 1.2}, "run_config.key2: expected a number > 1.2 and ≤ 3, got 1.2"),
            ({"key3": {"key5": "yes"}}, "run_config.key3.key5: expected a boolean, got 'yes'"),
        ],
    ),
    "wandb_test_validate_float_minimum.yaml": (
        {"key1": 2},
        {"key1": 2},
        [({"key1": 1}, "run_config.key1: expected an integer ≥ 1.5, got 1")],
    ),
    # JSON Schema applies `minimum` to numbers only: an empty string is a valid string here.
    "wandb_test_validate_string_minimum.yaml": (
        {"key1": ""},
        {"key1": ""},
        [({"key1": 5}, "run_config.key1: expected a string, got 5")],
    ),
    "wandb_test_validate_default.yaml": (
        {},
        {"key1": 5},
        [({"key1": "five"}, "run_config.key1: expected an integer, got 'five'")],
    ),
}


def test_every_corpus_file_has_a_case_and_says_where_it_comes_from():
    files = sorted(path.name for path in CORPUS.glob("*.yaml"))
    assert files == sorted(CASES)
    for name in files:
        assert (CORPUS / name).read_text().startswith("# Source: "), name


@pytest.mark.parametrize(
    ("name", "model"),
    [("pydantic_docs_model.yaml", Schema), ("pydantic_train_config.yaml", TrainConfig)],
)
def test_the_pydantic_files_are_their_models_schemas(name, model):
    """The stored files are what pydantic wrote for the models in tests/schema_models.py."""
    assert yaml.safe_load((CORPUS / name).read_text()) == model.model_json_schema()


@pytest.fixture
def local_queue(store):
    make_queue(store, "local")


def _create(cli, tmp_path, name: str):
    src = write_code_job(tmp_path / "src", "print(0)\n")
    job = name.removesuffix(".yaml").replace("_", "-")
    made = cli("job", "create", "code", job, str(src), "--schema", str(CORPUS / name))
    assert made.code == 0, made.err
    return job


def _launch(job: str, run_config: dict) -> list[str]:
    spec = json.dumps({"overrides": {"run_config": run_config}})
    return ["launch", "-j", job, "-q", "local", "-c", spec]


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_schema_is_accepted_with_its_defaults_and_a_good_config(
    cli, store, tmp_path, local_queue, name
):
    good, expected, _ = CASES[name]
    job = _create(cli, tmp_path, name)
    result = cli(*_launch(job, good))
    assert result.code == 0, result.err
    # The enqueued launch, not the dry run's output: that one masks values whose name looks
    # secret (`key1`).
    (item,) = store.items.waiting(store.queues.get("local").id)
    assert item.launch["run_config"] == expected


@pytest.mark.parametrize(
    ("name", "bad", "line"),
    [(name, bad, line) for name, (_, _, bads) in sorted(CASES.items()) for bad, line in bads],
)
def test_a_bad_config_is_refused_with_the_fields_line(
    cli, tmp_path, db_path, local_queue, name, bad, line
):
    job = _create(cli, tmp_path, name)
    refusal_checker(cli, db_path)(_launch(job, bad), line)

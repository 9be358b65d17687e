"""The environment W&B's agent gives a run, given by launchbay's: an unmodified W&B script sees
the launched run config in `wandb.config` (the real wandb package, offline), the user's own
WANDB_MODE and WANDB_API_KEY pass unchanged, and a queue's `wandb_env: false` turns it off."""

import json
import os

import pytest
from kit import launch, make_code_job, make_queue, run_agent, run_for_item

from runners.launch.redaction import REDACTED, redact
from runners.launch.request import LaunchRequest, prepare_launch, preview
from runners.launch.wandb_env import split_env, wandb_env
from store import BadInput, RunState

# A training script as W&B's docs write one: its own defaults, then whatever launch says.
_WANDB_SCRIPT = """
import json, os
import wandb

run = wandb.init(config={"lr": 0.1, "epochs": 1, "optimizer": "adam"})
print("CONFIG " + json.dumps(dict(run.config), sort_keys=True), flush=True)
print("RUN " + json.dumps({"id": run.id, "name": run.name}), flush=True)
print("USER_ENV " + json.dumps({k: os.environ.get(k) for k in ("WANDB_MODE", "WANDB_API_KEY")}))
run.finish()
"""
_USER_KEY = "0123456789abcdef0123456789abcdef01234567"  # the user's own (a dummy, never sent)


def _printed(log: str, prefix: str) -> dict:
    (line,) = [line for line in log.splitlines() if line.startswith(prefix + " ")]
    return json.loads(line[len(prefix) + 1 :])


@pytest.mark.slow
def test_an_unmodified_wandb_script_sees_the_launched_run_config(
    store, db_path, tmp_path, monkeypatch
):
    make_code_job(store, tmp_path, "train", _WANDB_SCRIPT)
    make_queue(store)
    item = launch(
        store,
        "train",
        spec={"overrides": {"run_config": {"lr": 0.01, "batch_size": 64}}},
        run_name="lr-sweep-1",
    )
    # The user's own W&B settings, in the environment the agent (and so the job) inherits.
    user_env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_API_KEY": _USER_KEY,
        "WANDB_DIR": str(tmp_path),
        "WANDB_SILENT": "true",
    }
    run_agent(db_path, environ=user_env)
    run = run_for_item(store, item)
    log = store.run_log_path(run.id).read_text()
    assert run.state is RunState.FINISHED, (run.message, log)
    # The launch's overrides over the script's own defaults, as on W&B.
    assert _printed(log, "CONFIG") == {
        "lr": 0.01,
        "batch_size": 64,
        "epochs": 1,
        "optimizer": "adam",
    }
    assert _printed(log, "RUN") == {"id": run.id, "name": "lr-sweep-1"}
    assert _printed(log, "USER_ENV") == {"WANDB_MODE": "offline", "WANDB_API_KEY": _USER_KEY}


def _preview_env(store, tmp_path, queue_config=None, **request) -> dict:
    make_code_job(store, tmp_path, "train", "pass")
    make_queue(store, config=queue_config)
    prepared = prepare_launch(store, LaunchRequest(job="train", queue="local", **request))
    return preview(store, prepared, environ={})["env"]


def test_runs_get_the_wandb_variables_beside_launchbays(store, tmp_path):
    env = _preview_env(
        store, tmp_path, spec={"overrides": {"run_config": {"lr": 0.5}}}, run_name="first"
    )
    assert env["WANDB_LAUNCH"] == "True"
    assert env["WANDB_RUN_ID"] == env["LAUNCHBAY_RUN_ID"]
    assert env["WANDB_NAME"] == "first"
    assert env["WANDB_LAUNCH_QUEUE_NAME"] == "local"
    assert json.loads(env["WANDB_CONFIG"]) == {"lr": 0.5}
    assert env["WANDB_ARTIFACTS"] == "{}" and env["WANDB_LAUNCH_FILE_OVERRIDES"] == "{}"
    # Never the user's own: those reach the job as the user set them, or not at all.
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL", "WANDB_PROJECT"):
        assert name not in env


def test_a_queue_with_wandb_env_false_gives_none_of_them(store, tmp_path):
    env = _preview_env(store, tmp_path, queue_config={"wandb_env": False})
    assert [name for name in env if name.startswith("WANDB_")] == []
    assert env["LAUNCHBAY_RUN_ID"]


def test_wandb_env_must_be_true_or_false(store):
    with pytest.raises(BadInput) as refused:
        make_queue(store, config={"wandb_env": "no"})
    assert refused.value.field == "wandb_env"
    assert store.queues.list() == []


def test_a_launchs_artifacts_and_files_reach_the_job_as_wandb_reads_them(store, tmp_path):
    overrides = {
        "artifacts": {"dataset": "me/proj/mnist:v3"},
        "files": {"config.yaml": {"lr": 0.2}},
    }
    env = _preview_env(store, tmp_path, spec={"overrides": overrides})
    assert json.loads(env["WANDB_ARTIFACTS"]) == overrides["artifacts"]
    assert json.loads(env["WANDB_LAUNCH_FILE_OVERRIDES"]) == overrides["files"]


def _env_for(resource: str, run_config: dict, resume_count: int = 0) -> dict:
    return wandb_env(
        run_id="abc12345",
        queue="q",
        item_id=7,
        run_config=run_config,
        resource=resource,
        resume_count=resume_count,
    )


@pytest.mark.parametrize(
    ("resource", "limit", "layers"), [("sagemaker", 512, 60), ("docker", 32670, 900)]
)
def test_a_long_config_is_split_exactly_as_wandbs_agent_splits_it(
    monkeypatch, resource, limit, layers
):
    from wandb.sdk.launch._project_spec import _inject_wandb_config_env_vars
    from wandb.sdk.launch.utils import load_wandb_config

    config = {f"layer_{i}": {"width": i * 64, "name": "é" * (i % 5)} for i in range(layers)}
    ours = {k: v for k, v in _env_for(resource, config).items() if k.startswith("WANDB_CONFIG")}
    theirs: dict = {}
    # launchbay writes the keys sorted: W&B's function, given them so, must write the same.
    _inject_wandb_config_env_vars(json.loads(json.dumps(config, sort_keys=True)), theirs, limit)
    assert ours == theirs and len(ours) > 1
    for name, value in ours.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WANDB_CONFIG", raising=False)
    assert dict(load_wandb_config()) == config  # W&B's own reader puts it back together


def test_a_config_too_long_for_sagemakers_100_variables_is_left_out_there():
    config = {"text": "x" * (16 * 512)}  # 17 chunks of 512
    assert not [name for name in _env_for("sagemaker", config) if "CONFIG" in name]
    assert json.loads(_env_for("docker", config)["WANDB_CONFIG"]) == config


def test_a_resumed_run_is_told_to_resume_its_wandb_run():
    assert "WANDB_RESUME" not in _env_for("local-process", {})
    assert _env_for("local-process", {}, resume_count=1)["WANDB_RESUME"] == "allow"


def test_a_secret_cut_across_wandb_config_chunks_is_hidden_in_every_chunk():
    token = "hf_" + "Q" * 37
    # Placed so that the 512-character cut falls inside the token.
    config = {"a_pad": "a" * 480, "hf_token": token}
    spec = {"run_config": config, "env": _env_for("sagemaker", config)}
    chunks = [v for k, v in redact(spec)["env"].items() if k.startswith("WANDB_CONFIG_")]
    assert len(chunks) == 2
    joined = "".join(chunks)
    assert "Q" * 8 not in joined and REDACTED in chunks[0] and REDACTED in chunks[1]


def test_split_env_keeps_a_short_value_whole():
    assert split_env("WANDB_CONFIG", {"a": 1}, 512) == {"WANDB_CONFIG": '{"a": 1}'}


def test_a_launch_spec_naming_a_project_and_entity_sends_the_run_there(store, tmp_path):
    env = _preview_env(store, tmp_path, spec={"project": "vision", "entity": "my-team"})
    assert (env["WANDB_PROJECT"], env["WANDB_ENTITY"]) == ("vision", "my-team")
    with pytest.raises(BadInput) as refused:
        prepare_launch(store, LaunchRequest(job="train", queue="local", spec={"project": ""}))
    assert refused.value.field == "project"


def test_a_secret_in_a_file_override_is_hidden_in_its_wandb_variable(store, tmp_path):
    token = "tok-" + "S" * 24
    overrides = {"files": {"secrets.yaml": {"api_token": token}}}
    make_code_job(store, tmp_path, "train", "pass")
    make_queue(store)
    prepared = prepare_launch(
        store, LaunchRequest(job="train", queue="local", spec={"overrides": overrides})
    )
    spec = preview(store, prepared, environ={})
    assert json.loads(spec["env"]["WANDB_LAUNCH_FILE_OVERRIDES"]) == overrides["files"]
    assert token not in json.dumps(redact(spec))

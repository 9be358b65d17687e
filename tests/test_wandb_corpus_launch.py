"""Real W&B inputs (tests/wandb_corpus/launch/ and macros/: launch configs, template variables,
macros, agent configs; each file names where it comes from), each accepted and rendered as W&B
renders it, or refused with the reason its file states.

"As W&B renders it" is W&B's own code, run here on the same input: `_launch_add` builds the
launch spec (the explicit values over the config's), `LaunchProject` reads it as W&B's agent
does, `fill_macros` fills the queue's macros, and W&B's `LocalProcessRunner` builds the command
(its `_run_entry_point` caught, so nothing runs). launchbay's dry run must give the same argv,
the same W&B variables (less those the README says it never gives) and the same values."""

import asyncio
import copy
import json
import re
import shlex
from pathlib import Path
from unittest.mock import MagicMock, patch

import pytest
import yaml

from runners.agent.launch_config import load_agent_config
from runners.catalog.jobs import create_job
from runners.catalog.queues import check_queue_config
from runners.launch.request import LaunchRequest, prepare_launch, preview
from runners.launch.wandb_env import NOT_GIVEN
from store import BadInput

CORPUS = Path(__file__).parent / "wandb_corpus"
FILES = sorted([*CORPUS.glob("launch/*.yaml"), *CORPUS.glob("macros/*.yaml")])
JOB_COMMAND = ["python", "train.py"]
_ENV_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _load(path: Path) -> dict:
    text = path.read_text()
    assert text.startswith(("#", "source:")), f"{path.name} must say where it comes from first"
    document = yaml.safe_load(text)
    assert document["source"].startswith("https://github.com/wandb/"), path.name
    return document


def test_the_corpus_holds_at_least_ten_inputs_with_both_outcomes():
    outcomes = [_load(path)["expect"] == "accepted" for path in FILES]
    assert len(FILES) >= 10 and any(outcomes) and not all(outcomes)


def _launchbay(store, tmp_path, case: dict) -> tuple[dict, dict]:
    """launchbay's dry run of the case: (the launch as enqueued, the spec the runner gets)."""
    folder = tmp_path / "job"
    folder.mkdir()
    create_job(store, "code", "job", str(folder), entrypoint=shlex.join(JOB_COMMAND))
    config = check_queue_config("local-process", copy.deepcopy(case.get("queue_config") or {}))
    store.queues.create("local", "local-process", config)
    cli = case.get("cli") or {}
    request = LaunchRequest(
        job="job",
        queue="local",
        spec=copy.deepcopy(case.get("launch_config")),
        set_vars=[f"{k}={v}" for k, v in (cli.get("template_variables") or {}).items()],
        entry_point=shlex.join(cli["entry_point"]) if cli.get("entry_point") else None,
        run_name=cli.get("name"),
    )
    prepared = prepare_launch(store, request)
    return prepared.launch, preview(store, prepared, environ={})


def _wandb(tmp_path, case: dict, author: str) -> tuple[dict, dict, list[str], dict, dict]:
    """W&B's rendering of the case: (template variable values it sends, its env, its argv, its
    filled resource args, the launch spec)."""
    import wandb.sdk.launch._launch_add as launch_add
    from wandb.sdk.launch._project_spec import LaunchProject
    from wandb.sdk.launch.runner.local_process import LocalProcessRunner

    api = MagicMock()
    api.settings = MagicMock(return_value=None)  # no project or entity set by the user
    api.settings.__getitem__.return_value = "https://api.wandb.ai"  # its base_url
    api.default_entity = "me"
    api.api_key = ""
    sent: dict = {}

    def push_to_queue(_api, _queue, launch_spec, template_variables, _project_queue, _prio):
        sent.update(spec=launch_spec, variables=template_variables)
        return {"runQueueItemId": "1"}

    cli = case.get("cli") or {}
    # Its public API (read once the item is pushed, for what the server says) stays a mock.
    with (
        patch.object(launch_add, "push_to_queue", push_to_queue),
        patch.object(launch_add, "public"),
    ):
        launch_add._launch_add(
            api,
            job="me/proj/job:v0",
            config=copy.deepcopy(case.get("launch_config") or {}),
            template_variables=cli.get("template_variables"),
            project=None,
            entity=None,
            queue_name="local",
            resource=None,
            entry_point=cli.get("entry_point"),
            name=cli.get("name"),
            version=None,
            docker_image=None,
            project_queue=None,
            resource_args=None,
            run_id=None,
            build=False,
            repository=None,
            sweep_id=None,
            author=None,
            priority=None,
        )
    # What W&B's server and agent add before the runner sees the spec: the queue's resource
    # config, the run id (launchbay's dry-run id here), the author.
    spec = sent["spec"]
    queue_args = (case.get("queue_config") or {}).get("resource_args") or {}
    spec.update(
        resource="local-process",
        resource_args={"local-process": queue_args},
        run_id="dryrun00",
        author=author,
    )
    project = LaunchProject.from_spec(spec, api)
    project.queue_name = "local"
    project._job_artifact = MagicMock()
    project.set_job_entry_point(list(JOB_COMMAND))
    project.project_dir = str(tmp_path)
    filled = project.fill_macros("")["local-process"]
    runner = LocalProcessRunner(api, {"SYNCHRONOUS": False})
    with patch("wandb.sdk.launch.runner.local_process._run_entry_point") as run:
        asyncio.run(runner.run(project))
    words = shlex.split(run.call_args[0][0])
    split = next(i for i, word in enumerate(words) if not _ENV_WORD.match(word))
    env = dict(word.split("=", 1) for word in words[:split])
    return sent["variables"], env, words[split:], filled, spec


def _same_wandb_env(ours: dict, theirs: dict) -> None:
    ours = {k: v for k, v in ours.items() if k.startswith("WANDB_")}
    assert set(theirs) - set(ours) <= set(NOT_GIVEN), set(theirs) - set(ours)
    assert set(ours) <= set(theirs), set(ours) - set(theirs)
    for name, value in ours.items():
        if name in ("WANDB_CONFIG", "WANDB_LAUNCH_FILE_OVERRIDES"):
            assert json.loads(value) == json.loads(theirs[name]), name  # keys sorted here
        elif name == "WANDB_ARTIFACTS":
            # W&B adds its job's artifact (`_wandb_job`); a launchbay job is none.
            expected = json.loads(theirs[name])
            expected.pop("_wandb_job", None)
            assert json.loads(value) == expected
        else:
            assert value == theirs[name], name


def _check_agent_config(path: Path, case: dict, tmp_path) -> None:
    from wandb.sdk.launch.agent.config import AgentConfig

    config = case["agent_config"]
    theirs = AgentConfig(**config)  # a valid W&B agent config, by W&B's own model
    file = tmp_path / "launch-config.yaml"
    file.write_text(yaml.safe_dump(config))
    if case["expect"] != "accepted":
        with pytest.raises(BadInput) as refused:
            load_agent_config(str(file), 100_000)
        assert str(refused.value).startswith(case["expect"].removeprefix("refused: "))
        return
    ours = load_agent_config(str(file), 100_000)
    if "queues" in config:
        assert ours.queues == theirs.queues
    if "max_jobs" in config:
        assert ours.max_jobs == theirs.max_jobs
    ignored = [key for key in config if key not in ("queues", "max_jobs")]
    assert [warning.split(" ")[0] for warning in ours.warnings] == ignored


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_wandb_input_is_rendered_as_wandb_renders_it_or_refused(store, tmp_path, path):
    case = _load(path)
    if "agent_config" in case:
        _check_agent_config(path, case, tmp_path)
        return
    if case["expect"] != "accepted":
        with pytest.raises(BadInput) as refused:
            _launchbay(store, tmp_path, case)
        assert str(refused.value).startswith(case["expect"].removeprefix("refused: "))
        for queue in store.queues.list():  # refused at launch: nothing enqueued
            assert store.items.waiting(queue.id) == []
        return
    launch, ours = _launchbay(store, tmp_path, case)
    variables, env, argv, filled, spec = _wandb(tmp_path, case, launch["author"])
    assert ours["entry_point"] + ours["args"] == argv
    _same_wandb_env(ours["env"], env)
    assert ours["run_config"] == (spec.get("overrides") or {}).get("run_config", {})
    if (case.get("queue_config") or {}).get("template_variables"):
        assert launch["template_variables"] == variables
    else:  # the queue's macros, filled as W&B's fill_macros fills them
        assert ours["resource_args"].get("env", {}) == filled.get("env", {})

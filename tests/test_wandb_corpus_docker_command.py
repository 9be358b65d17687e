"""The docker corpus' accepted queue configs (tests/wandb_corpus/docker/queue-*) against the
command W&B's own code builds from them: W&B's local-container runner (`get_docker_command`,
run here) turns a queue config into `docker run` flags; each flag, read as the docker CLI reads
it, must be what launchbay's dry run asks the engine for (`submission.create_container`), field
by field. The differences launchbay keeps on purpose (no network unless granted, an init as
PID 1) are the README's "Coming from W&B Launch" and tests/test_wandb_corpus_targets.py's."""

import argparse
import json
from pathlib import Path

import pytest
import yaml

CORPUS = Path(__file__).parent / "wandb_corpus" / "docker"
IMAGE = "registry.example.com/train:1"
ARGS = ["--epochs", "3"]
QUEUES = sorted(path.name for path in CORPUS.glob("queue-*.yaml"))
REFUSED = {"queue-wandb-test-command-flag.yaml"}  # `command` is no docker flag (README)


def wandb_docker_run(config: dict, environ: dict) -> argparse.Namespace:
    """`docker run …` as W&B's runner builds it for an image job run with ARGS, parsed as the
    docker CLI parses the flags W&B's docs use."""
    from wandb.sdk.launch.runner.local_container import get_docker_command

    docker_args = {key: value for key, value in config.items() if key != "builder"}
    argv = get_docker_command(IMAGE, {}, None, docker_args, ARGS)
    assert argv[:2] == ["docker", "run"], argv
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("-e", "--env", action="append", default=[])
    parser.add_argument("-v", "--volume", action="append", default=[])
    parser.add_argument("--gpus")
    parser.add_argument("--rm", action="store_true")
    parser.add_argument("image")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    parsed = parser.parse_args(argv[2:])
    # docker's `--env NAME` passes the caller's NAME (here: the agent's).
    parsed.env = dict(
        entry.split("=", 1) if "=" in entry else (entry, environ[entry]) for entry in parsed.env
    )
    return parsed


@pytest.mark.parametrize("name", [name for name in QUEUES if name not in REFUSED])
def test_a_docker_queue_is_asked_of_the_engine_as_wandbs_docker_run_asks_it(cli, name, monkeypatch):
    monkeypatch.setenv("MY_EXISTING_ENV_VAR", "from-the-agent")  # a dry run stands for the agent
    config = yaml.safe_load((CORPUS / name).read_text())
    wandb = wandb_docker_run(config, {"MY_EXISTING_ENV_VAR": "from-the-agent"})
    assert cli("job", "create", "image", "img", IMAGE).code == 0
    created = cli(
        "queue", "create", "q", "-r", "docker", "-c", json.dumps({"resource_args": config})
    )
    assert created.code == 0, created.err
    result = cli("launch", "-j", "img", "-q", "q", "-a", " ".join(ARGS), "--dry-run")
    assert result.code == 0, result.err
    container = json.loads(result.out)["submission"]["create_container"]
    host = container["host_config"]
    assert container["image"] == wandb.image
    assert container["command"] == wandb.args  # no --entrypoint: the image's own runs them
    assert "entrypoint" not in container
    for variable, value in wandb.env.items():
        assert container["environment"][variable] == value, variable
    assert host.get("binds", []) == wandb.volume
    # --gpus all is one device request for every GPU (count -1), as the docker CLI sends it.
    requests = [{"count": -1, "capabilities": [["gpu"]]}] if wandb.gpus == "all" else None
    assert host.get("device_requests") == requests
    # --rm: launchbay removes the container itself when the run ends (its logs read first).
    assert "auto_remove" not in host


def test_every_accepted_docker_queue_of_the_corpus_is_compared():
    assert len([name for name in QUEUES if name not in REFUSED]) >= 3
    assert set(QUEUES) >= REFUSED

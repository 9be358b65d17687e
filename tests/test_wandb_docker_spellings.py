"""Every W&B spelling of a docker setting that reaches out of the sandbox meets the check its
canonical key meets: refused with the same line (exit 2, store unchanged) when the queue grants
nothing, accepted when the queue's config grants the canonical key. And the spellings really
reach the container."""

import json
import os
import re

import pytest
from kit import (
    AgentThread,
    docker_queue,
    image_job,
    launch,
    modules_loaded_by_cli,
    refusal_checker,
    wait_for,
)

from store import RunState, Store

# (the W&B spelling a launch uses, the canonical spelling, the queue config that grants it)
ESCAPES = {
    "-v host mount": ({"v": ["/etc:/host-etc:ro"]}, {"volumes": ["/etc:/host-etc:ro"]}),
    "--volume host mount": ({"volume": "/etc:/host-etc:ro"}, {"volumes": ["/etc:/host-etc:ro"]}),
    "--net host": ({"net": "host"}, {"network": "host"}),
    "--network host": ({"network": "host"}, {"network": "host"}),
    "--privileged": ({"privileged": True}, {"privileged": True}),
    "--cap-add": ({"cap-add": "SYS_ADMIN"}, {"cap_add": ["SYS_ADMIN"]}),
    "--cap-add list": ({"cap-add": ["SYS_ADMIN"]}, {"cap_add": ["SYS_ADMIN"]}),
    "--device": ({"device": "/dev/fuse"}, {"devices": ["/dev/fuse"]}),
    "--ipc host": ({"ipc": "host"}, {"ipc": "host"}),
    "--pid host": ({"pid": "host"}, {"pid": "host"}),
    "-u root": ({"u": "0:0"}, {"user": "0:0"}),
    "--user root": ({"user": "0:0"}, {"user": "0:0"}),
    "--runtime": ({"runtime": "runc"}, {"runtime": "runc"}),
    "-e NAME": ({"e": ["AGENT_HOME"]}, {"env": {"AGENT_HOME": "${env:AGENT_HOME}"}}),
    "--env NAME": ({"env": "AGENT_HOME"}, {"env": {"AGENT_HOME": "${env:AGENT_HOME}"}}),
    # W&B reads a flag's name with its dashes, `_` for `-` and any case (_docker_arg_name)
    "'--privileged'": ({"--privileged": True}, {"privileged": True}),
    "'-v'": ({"-v": "/etc:/host-etc:ro"}, {"volumes": ["/etc:/host-etc:ro"]}),
    "NET": ({"NET": "host"}, {"network": "host"}),
    "'--cap_add'": ({"--cap_add": "SYS_ADMIN"}, {"cap_add": ["SYS_ADMIN"]}),
    "Pid": ({"Pid": "host"}, {"pid": "host"}),
}  # fmt: skip
GRANTS = {
    "network": {"allowed_networks": ["host"]},
}


def _grant(canonical: dict) -> dict:
    """The queue config that grants `canonical`: the key itself, or its allow-list."""
    (key, value), = canonical.items()  # fmt: skip
    return {"resource_args": GRANTS.get(key, {key: value})}


@pytest.fixture
def world(db_path):
    store = Store.open(db_path)
    try:
        docker_queue(store, "sandboxed")
        for index, (_, canonical) in enumerate(ESCAPES.values()):
            docker_queue(store, f"granting-{index}", config=_grant(canonical))
        image_job(store, "img", "true")
    finally:
        store.close()


@pytest.fixture
def refused(world, db_path, cli):
    return refusal_checker(cli, db_path)


def _launch(queue: str, resource_args: dict, *extra: str) -> list[str]:
    spec = {"resource_args": resource_args}
    return ["launch", "-j", "img", "-q", queue, "-c", json.dumps(spec), *extra]


@pytest.mark.parametrize("name", list(ESCAPES))
def test_a_w_and_b_spelling_is_refused_exactly_as_its_canonical_key(refused, name):
    spelling, canonical = ESCAPES[name]
    through_alias = refused(_launch("sandboxed", spelling))
    through_canonical = refused(_launch("sandboxed", canonical))
    assert through_alias == through_canonical
    # ...and in W&B's own wrapping of the resource args, too.
    assert refused(_launch("sandboxed", {"local-container": spelling})) == through_canonical


@pytest.mark.parametrize("name", list(ESCAPES))
def test_a_w_and_b_spelling_is_accepted_when_the_queue_grants_its_canonical_key(
    cli, world, name, monkeypatch
):
    spelling, canonical = ESCAPES[name]
    queue = f"granting-{list(ESCAPES).index(name)}"
    monkeypatch.setenv("AGENT_HOME", "/home/agent")  # a dry run reads its own environment
    result = cli(*_launch(queue, spelling, "--dry-run"))
    assert result.code == 0, result.err
    (key, value), = canonical.items()  # fmt: skip
    expanded = json.loads(json.dumps(value).replace("${env:AGENT_HOME}", "/home/agent"))
    assert json.loads(result.out)["resource_args"][key] == expanded
    assert cli(*_launch(queue, spelling)).code == 0


def test_a_flag_name_is_read_as_wandbs_runner_reads_it(cli, world):
    for spelling in ("shm-size", "--shm-size", "SHM_SIZE", "shm_size"):
        result = cli(*_launch("sandboxed", {spelling: "32m"}, "--dry-run"))
        assert result.code == 0, result.err
        assert json.loads(result.out)["resource_args"]["shm_size"] == 32 * 2**20, spelling


def test_two_spellings_of_one_setting_with_different_values_are_refused(refused):
    refused(
        _launch("sandboxed", {"memory": "1g", "m": "2g"}),
        "resource_args.m: sets memory as resource_args.memory does, with another value",
    )
    refused(
        _launch("sandboxed", {"env": {"A": "1"}, "e": ["A=2"]}),
        "resource_args.e: sets env as resource_args.env does, with another value",
    )


@pytest.mark.parametrize(
    ("flag", "reason"),
    [
        ("p", "publishing ports"),
        ("add-host", "host entries"),
        ("env-file", "env file"),
        ("cpuset-cpus", "expected cpus: N"),  # in W&B's allow-list: refused saying what to use
        ("memory-reservation", "expected memory: SIZE"),
    ],
)
def test_a_docker_flag_launchbay_does_not_support_is_refused_saying_why(refused, flag, reason):
    refused(_launch("sandboxed", {flag: "x"}), f"resource_args.{flag}: ", reason)


def test_a_queue_spelt_with_docker_flags_runs_its_container_as_they_say(db_path, store, engine):
    docker_queue(
        store,
        "flags",
        config={
            "resource_args": {
                "e": ["GREETING=hello", "PLAIN"],
                "shm-size": "96m",
                "l": ["team=vision"],
                "w": "/tmp",
                "ulimit": "nofile=512:1024",
                "m": "256m",
                "cap-add": "NET_ADMIN",  # granted by the queue itself
            }
        },
    )
    image_job(
        store,
        "show",
        'echo "greeting=$GREETING plain=$PLAIN pwd=$(pwd) nofile=$(ulimit -n)";'
        " df -m /dev/shm | tail -1; grep CapEff /proc/self/status",
    )
    item = launch(store, "show", "flags")
    with AgentThread(db_path, environ={**os.environ, "PLAIN": "from-the-agent"}):
        run = wait_for(
            lambda: (r := store.runs.find_for_item(item)) and r.state.is_terminal() and r,
            60,
            "the run to end",
        )
    log = store.run_log_path(run.id).read_text()
    assert run.state is RunState.FINISHED, log
    assert "greeting=hello plain=from-the-agent pwd=/tmp nofile=512" in log
    assert " 96 " in log  # /dev/shm of 96 MiB
    effective = int(re.search(r"CapEff:\s*([0-9a-f]+)", log).group(1), 16)
    assert effective & (1 << 12)  # CAP_NET_ADMIN, which docker's default set lacks
    spec = store.runs.get(run.id).spec
    assert spec["resource_args"]["labels"] == {"team": "vision"}
    assert spec["resource_args"]["memory"] == 256 * 1024**2


def test_a_bare_env_name_the_agent_lacks_fails_the_item_at_claim(db_path, store):
    from store import ItemState

    docker_queue(store, "bare", config={"resource_args": {"e": ["LB_TEST_NOT_SET_ANYWHERE"]}})
    image_job(store, "quiet", "true")
    item = launch(store, "quiet", "bare")
    environ = {k: v for k, v in os.environ.items() if k != "LB_TEST_NOT_SET_ANYWHERE"}
    with AgentThread(db_path, environ=environ):
        failed = wait_for(
            lambda: (i := store.items.get(item)).state is ItemState.FAILED and i,
            30,
            "the item to fail",
        )
    assert failed.error_stage == "agent"
    assert "LB_TEST_NOT_SET_ANYWHERE is not set in the agent's environment" in (
        failed.error_message
    )


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ({"gpus": "all"}, {"gpus": "all"}),
        ({"gpus": "2"}, {"gpus": 2}),
        ({"gpus": "count=2,capabilities=compute,utility"}, {"gpus": 2}),
        ({"gpus": "device=0,1"}, {"gpus": ["0", "1"]}),
        ({"gpus": '"device=0,2"'}, {"gpus": ["0", "2"]}),
        ({"gpus": "driver=nvidia,device=GPU-3f2a"}, {"gpus": ["GPU-3f2a"]}),
        (
            {"ulimit": ["nofile=1024:2048", "nproc=64"]},
            {"ulimits": {"nofile": {"soft": 1024, "hard": 2048}, "nproc": 64}},
        ),
        ({"l": ["team=ml", "nightly"]}, {"labels": {"team": "ml", "nightly": ""}}),
        ({"e": "A=1", "env": {"B": "2"}}, {"env": {"A": "1", "B": "2"}}),
        ({"v": ["/a:/a"], "volume": "/b:/b:ro"}, {"volumes": ["/a:/a", "/b:/b:ro"]}),
        (
            {"shm-size": "1g", "m": "2g", "memory-swap": -1, "pids-limit": 64},
            {"shm_size": "1g", "memory": "2g", "memory_swap": -1, "pids_limit": 64},
        ),
        ({"rm": True, "u": "1000", "w": "/work"}, {"user": "1000", "workdir": "/work"}),
    ],
)  # fmt: skip
def test_each_docker_flag_spelling_is_read_as_its_launchbay_key(spelling, canonical):
    from runners.targets.docker.aliases import canonical as read

    assert read(spelling) == canonical
    assert read(canonical) == canonical  # the step is idempotent: the claim repeats it


@pytest.mark.parametrize(
    ("spelling", "key"),
    [({"v": ["{{where}}:/data:ro"]}, "volumes"), ({"net": "{{where}}"}, "network")],
)
def test_a_queue_variable_in_a_w_and_b_spelling_must_be_an_enum_too(refused, spelling, key):
    config = {
        "resource_args": spelling,
        "template_variables": {"where": {"type": "string", "default": "/data"}},
    }
    refused(
        ["queue", "create", "loose", "-r", "docker", "-c", json.dumps(config)],
        "template_variables.where",
        f"sets resource_args.{key}",
        "expected an enum",
    )


def test_a_docker_dry_run_shows_the_container_without_loading_the_sdk(world, cli):
    command = ["launch", "-j", "img", "-q", "granting-0", "--dry-run"]
    result = cli(*command, "-c", json.dumps({"resource_args": {"v": ["/etc:/host-etc:ro"]}}))
    assert result.code == 0, result.err
    host = json.loads(result.out)["submission"]["create_container"]["host_config"]
    assert host["binds"] == ["/etc:/host-etc:ro"]
    assert modules_loaded_by_cli([command], ("docker",)) == []

"""What a docker queue and launch may ask for: the allow-list, and the settings that only the
queue's own config can grant. Each refusal is one line, exit code 2, and the store unchanged;
the grants are proven by running containers that use them."""

import json

import pytest
from kit import (
    BUSYBOX,
    REGISTRY,
    AgentThread,
    docker_queue,
    image_job,
    launch,
    refusal_checker,
    wait_for,
)

from store import RunState, Store


@pytest.fixture
def docker_world(db_path, tmp_path):
    """Queues: `sandboxed` (defaults), `granting` (grants host networking and lists a mount);
    jobs: an image job and a code job. Closed again so only the CLI touches the store."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data.txt").write_text("mounted data\n")
    store = Store.open(db_path)
    try:
        docker_queue(store, "sandboxed")
        docker_queue(
            store,
            "granting",
            config={
                "resource_args": {
                    "allowed_networks": ["host"],
                    "volumes": [f"{shared}:/data:ro"],
                }
            },
        )
        image_job(store, "img", "true")
        code = tmp_path / "code"
        code.mkdir()
        (code / "main.py").write_text("print('hi')\n")
        from runners.catalog.jobs import create_job

        create_job(store, "code", "code", str(code))
    finally:
        store.close()
    return shared


@pytest.fixture
def refused(docker_world, db_path, cli):
    return refusal_checker(cli, db_path)


def _launch(queue: str, spec: dict, job: str = "img") -> list[str]:
    return ["launch", "-j", job, "-q", queue, "-c", json.dumps(spec)]


def test_an_unknown_resource_arg_is_refused_with_the_allowed_list(refused):
    line = refused(
        _launch("sandboxed", {"resource_args": {"oom_kill_disable": True}}),
        "resource_args.oom_kill_disable: unknown key; expected one of gpus, gpu_min_free_mib,"
        " gpu_name,"
        " time_limit, env, cpus, memory",
    )
    for allowed in ("gpus", "ulimits", "pids_limit", "volumes", "network", "init"):
        assert allowed in line


@pytest.mark.parametrize(
    ("resource_args", "fragments"),
    [
        ({"memory": "lots"}, ["resource_args.memory", "512m or 2g"]),
        ({"cpus": 0}, ["resource_args.cpus", "greater than 0"]),
        ({"gpus": -1}, ["resource_args.gpus"]),
        ({"workdir": "relative/dir"}, ["resource_args.workdir", "absolute path"]),
        ({"labels": {"launchbay.run-id": "x"}}, ["resource_args.labels", "set by launchbay"]),
        ({"ulimits": {"nofiles": 10}}, ["resource_args.ulimits", "unknown ulimit 'nofiles'"]),
        ({"volumes": ["/etc"]}, ["resource_args.volumes", "SOURCE:TARGET"]),
    ],
    ids=["memory", "cpus", "gpus", "workdir", "labels", "ulimits", "volume-syntax"],
)
def test_malformed_resource_args_are_refused_naming_the_field(refused, resource_args, fragments):
    refused(_launch("sandboxed", {"resource_args": resource_args}), *fragments)


def test_a_launch_cannot_take_the_host_network_its_queue_does_not_grant(refused):
    refused(
        _launch("sandboxed", {"resource_args": {"network": "host"}}),
        "resource_args.network: 'host' is not granted by queue config; expected one of none",
    )


def test_a_launch_cannot_add_a_host_mount(refused):
    refused(
        _launch("granting", {"resource_args": {"volumes": ["/etc:/host-etc:ro"]}}),
        "resource_args.volumes: '/etc:/host-etc:ro' is not one of the queue's volumes",
    )
    refused(
        _launch("sandboxed", {"resource_args": {"volumes": ["/:/host"]}}),
        "is not one of the queue's volumes (none)",
    )


def test_a_launch_cannot_change_what_only_the_queue_may_set(refused):
    refused(
        _launch("sandboxed", {"resource_args": {"allowed_networks": ["host"]}}),
        "resource_args.allowed_networks: can be set only in the queue's own config",
    )
    refused(
        _launch("sandboxed", {"resource_args": {"keep_failed_containers": True}}),
        "resource_args.keep_failed_containers",
    )


def test_the_w_and_b_shape_of_resource_args_is_checked_too(refused):
    refused(
        _launch("sandboxed", {"resource_args": {"docker": {"network": "host"}}}),
        "resource_args.network",
    )


def test_a_dockerfile_override_must_be_a_relative_path_of_a_code_job(refused):
    refused(
        _launch("sandboxed", {"overrides": {"dockerfile": "Dockerfile"}}),
        "overrides.dockerfile",
        "image job",
    )
    refused(
        _launch("sandboxed", {"overrides": {"dockerfile": "../Dockerfile"}}, job="code"),
        "overrides.dockerfile",
        "relative path",
    )


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ({"registry": "not a registry"}, ["registry: 'not a registry'", "HOST[:PORT]/REPOSITORY"]),
        ({"builder": {"base": "x"}}, ["builder.base: unknown key", "base_image"]),
        ({"resource_args": {"memory": "-1g"}}, ["resource_args.memory"]),
    ],
    ids=["registry", "builder", "memory"],
)
def test_a_bad_docker_queue_config_is_refused(refused, config, fragments):
    refused(["queue", "create", "bad", "-r", "docker", "-c", json.dumps(config)], *fragments)


def test_a_local_process_queue_refuses_build_settings(refused):
    refused(
        ["queue", "create", "lp", "-r", "local-process", "-c", '{"registry": "h:5000/r"}'],
        "registry: local-process queues build no images",
    )


def test_a_dry_run_shows_the_spec_with_what_the_queue_granted(docker_world, cli):
    result = cli(
        *_launch(
            "granting",
            {"resource_args": {"network": "host", "volumes": [f"{docker_world}:/data:ro"]}},
        ),
        "--dry-run",
    )
    assert result.code == 0, result.err
    spec = json.loads(result.out)
    assert spec["resource_args"]["network"] == "host"
    assert spec["resource_args"]["volumes"] == [f"{docker_world}:/data:ro"]
    assert spec["env"]["LAUNCHBAY_CONFIG_FILE"] == "/launchbay/config.json"


def test_granted_host_network_and_mount_really_apply(docker_world, db_path, store, engine):
    image_job(
        store,
        "reach",
        f"cat /data/data.txt; wget -q -O - http://{REGISTRY}/v2/ && echo registry-reachable;"
        " touch /data/written 2>/dev/null || echo read-only-mount",
        image=BUSYBOX,
    )
    item = launch(
        store,
        "reach",
        "granting",
        spec={
            "resource_args": {"network": "host", "volumes": [f"{docker_world}:/data:ro"]},
        },
    )
    image_job(
        store,
        "sandboxed-reach",
        f"wget -q -T 3 -O - http://{REGISTRY}/v2/ && echo registry-reachable || echo no-network",
    )
    sandboxed_item = launch(store, "sandboxed-reach", "sandboxed")
    with AgentThread(db_path, max_jobs=2):
        run, sandboxed = (
            wait_for(
                lambda i=i: (r := store.runs.find_for_item(i)) and r.state.is_terminal() and r,
                60,
                "the run to end",
            )
            for i in (item, sandboxed_item)
        )
    log = store.run_log_path(run.id).read_text()
    assert run.state is RunState.FINISHED, log
    assert "mounted data" in log
    assert "registry-reachable" in log
    assert "read-only-mount" in log
    assert not (docker_world / "written").exists()
    # The default network is none: the same request from the sandboxed queue gets nowhere.
    sandboxed_log = store.run_log_path(sandboxed.id).read_text()
    assert "no-network" in sandboxed_log
    assert "registry-reachable" not in sandboxed_log


def test_a_launch_cannot_change_the_user_its_queue_runs_as(refused):
    refused(
        _launch("sandboxed", {"resource_args": {"user": "0:0"}}),
        "resource_args.user: can be set only in the queue's own config",
    )


def test_a_launch_cannot_read_the_agents_environment_into_the_container(refused):
    refused(
        _launch("sandboxed", {"resource_args": {"env": {"X": "${env:AGENT_DB_PASSWORD}"}}}),
        "resource_args.env.X: ${env:…} reads the agent's environment",
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("volumes", ["{{dataset}}:/data:ro"]), ("network", "{{dataset}}"), ("user", "{{dataset}}")],
)
def test_a_queue_variable_that_sets_a_mount_network_or_user_must_be_an_enum(refused, key, value):
    config = {
        "resource_args": {key: value},
        "template_variables": {"dataset": {"type": "string", "default": "/data"}},
    }
    refused(
        ["queue", "create", "loose", "-r", "docker", "-c", json.dumps(config)],
        "template_variables.dataset",
        f"sets resource_args.{key}",
        "expected an enum",
    )


def test_a_queue_variable_choosing_among_listed_mounts_is_accepted(docker_world, cli):
    config = {
        "resource_args": {"volumes": ["{{dataset}}:/data:ro"]},
        "template_variables": {
            "dataset": {"type": "string", "enum": [str(docker_world)], "default": str(docker_world)}
        },
    }
    result = cli("queue", "create", "choosy", "-r", "docker", "-c", json.dumps(config))
    assert result.code == 0, result.err
    refused_value = cli("launch", "-j", "img", "-q", "choosy", "-v", "dataset=/", "--dry-run")
    assert refused_value.code == 2
    assert "dataset" in refused_value.err


def test_a_launch_cannot_copy_the_agents_environment_into_args_or_config(refused):
    refused(
        ["launch", "-j", "img", "-q", "sandboxed", "-a", "--key ${env:AWS_SECRET_ACCESS_KEY}"],
        "args[1]: ${env:…} would copy the agent's environment into a docker job",
    )
    refused(
        _launch("sandboxed", {"overrides": {"run_config": {"token": "${env:HF_TOKEN}"}}}),
        "run_config.token: ${env:…} would copy",
    )

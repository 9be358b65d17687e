"""W&B's macros (each given a meaning here or refused at `queue create`) and W&B's template
variables (the `{schema: {…}}` form, and `template_variables` in a launch spec)."""

import json

import pytest
from kit import make_code_job, make_queue

from runners.launch.request import LaunchRequest, prepare_launch, preview
from store import BadInput


def _create(cli, tmp_path, config: dict):
    path = tmp_path / "queue.json"
    path.write_text(json.dumps(config))
    return cli("queue", "create", "q", "--resource", "local-process", "--config", str(path))


@pytest.mark.parametrize(
    ("macro", "says"),
    [
        ("${project_name}", "${project_name} is W&B's; launchbay has no W&B project"),
        ("${entity_name}", "${entity_name} is W&B's; launchbay has no W&B entity"),
        ("${AWS_REGION}", "${AWS_REGION}: W&B reads the agent's environment so; here write"),
        ("${run_config}", "unknown macro ${run_config}"),
    ],
)
def test_a_macro_without_a_meaning_here_is_refused_at_queue_create(
    store, cli, tmp_path, macro, says
):
    result = _create(cli, tmp_path, {"resource_args": {"env": {"WHERE": f"/x/{macro}"}}})
    assert result.code == 2
    assert result.err.startswith(f"launchbay: error: resource_args.env.WHERE: {says}")
    assert store.queues.list() == []


def test_wandbs_macros_with_a_meaning_here_are_substituted(store, tmp_path):
    make_code_job(store, tmp_path, "train", "pass")
    env = {
        "ID": "${run_id}",
        "NAME": "${run_name}",
        "BY": "${author}",
        "QUEUE": "${queue_name}",
        "JOB": "${job_name}:${job_version}",
        "LITERAL": "$${project_name}",
    }
    make_queue(store, config={"resource_args": {"env": env}})
    prepared = prepare_launch(store, LaunchRequest(job="train", queue="local", run_name="r1"))
    shown = preview(store, prepared, environ={})["resource_args"]["env"]
    assert shown == {
        "ID": "dryrun00",
        "NAME": "r1",
        "BY": prepared.launch["author"],
        "QUEUE": "local",
        "JOB": "train:v0",
        "LITERAL": "${project_name}",
    }
    assert prepared.launch["author"]  # the login name of who enqueued


@pytest.mark.parametrize(
    "variables",
    [
        # W&B's API (wandb tests: create_run_queue(template_variables=…))
        {"threads": {"schema": {"type": "integer", "minimum": 1, "maximum": 8, "default": 2}}},
        # W&B's Terraform provider: the key is a label, `name` the variable
        {"v1": {"name": "threads", "description": "CPU threads", "schema": {"type": "integer"}}},
        # launchbay's own
        {"threads": {"type": "integer", "minimum": 1, "maximum": 8, "default": 2}},
    ],
)
def test_template_variables_in_wandbs_form_are_taken(store, tmp_path, variables):
    make_code_job(store, tmp_path, "train", "pass")
    config = {"resource_args": {"env": {"T": "{{threads}}"}}, "template_variables": variables}
    queue = make_queue(store, config=config)
    assert queue.template_variables["threads"]["type"] == "integer"
    prepared = prepare_launch(
        store, LaunchRequest(job="train", queue="local", set_vars=["threads=4"])
    )
    assert prepared.launch["resource_args"]["env"]["T"] == "4"  # env values are text


def test_a_wandb_form_variable_keeps_its_bounds(store, tmp_path):
    make_code_job(store, tmp_path, "train", "pass")
    variables = {"mode": {"schema": {"type": "string", "enum": ["fast", "safe"]}}}
    make_queue(
        store,
        config={"resource_args": {"env": {"M": "{{mode}}"}}, "template_variables": variables},
    )
    with pytest.raises(BadInput) as refused:
        prepare_launch(store, LaunchRequest(job="train", queue="local", set_vars=["mode=slow"]))
    assert refused.value.field == "--set-var mode"


def test_template_variables_in_a_launch_spec_are_honoured_and_set_var_wins(store, tmp_path):
    make_code_job(store, tmp_path, "train", "pass")
    variables = {"threads": {"type": "integer", "default": 1}, "tag": {"type": "string"}}
    make_queue(
        store,
        config={
            "resource_args": {"env": {"T": "{{threads}}", "TAG": "{{tag}}"}},
            "template_variables": variables,
        },
    )
    spec = {"template_variables": {"threads": 6, "tag": "from-spec"}}
    env = prepare_launch(store, LaunchRequest(job="train", queue="local", spec=spec)).launch[
        "resource_args"
    ]["env"]
    assert env == {"T": "6", "TAG": "from-spec"}
    request = LaunchRequest(job="train", queue="local", spec=spec, set_vars=["tag=flag"])
    assert prepare_launch(store, request).launch["resource_args"]["env"]["TAG"] == "flag"
    with pytest.raises(BadInput) as refused:
        bad = {"template_variables": {"threads": [1]}}
        prepare_launch(store, LaunchRequest(job="train", queue="local", spec=bad))
    assert refused.value.field == "template_variables.threads"
    # A refused value names where it was given: the spec's key, or the flag that won over it.
    for bad, set_vars, field in (
        ({"threads": "many"}, [], "template_variables.threads"),
        ({"thread": 2}, [], "template_variables.thread"),
        ({"threads": 2}, ["threads=many"], "--set-var threads"),
    ):
        request = LaunchRequest(
            job="train", queue="local", spec={"template_variables": bad}, set_vars=set_vars
        )
        with pytest.raises(BadInput) as refused:
            prepare_launch(store, request)
        assert refused.value.field == field


def test_a_variable_declared_twice_is_refused(store):
    variables = {"a": {"type": "string"}, "b": {"name": "a", "schema": {"type": "string"}}}
    with pytest.raises(BadInput) as refused:
        make_queue(store, config={"template_variables": variables})
    assert refused.value.field == "template_variables.b"

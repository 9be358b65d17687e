"""What a local-process job gets of the agent's environment: all of it by default, or only what
its queue's `inherit_env` says (always PATH, HOME and the like)."""

import json
import os

import pytest
from kit import launch, make_code_job, make_queue, run_agent, run_for_item

from store import BadInput, RunState

_SHOW_ENV = """
import json, os
names = ["AWS_SECRET_ACCESS_KEY", "AWS_REGION", "PATH", "HOME", "FROM_QUEUE"]
print(json.dumps({name: os.environ.get(name) for name in names}))
"""
_AGENT_ENV = {
    **os.environ,
    "AWS_SECRET_ACCESS_KEY": "s3cr3t-of-the-agent",
    "AWS_REGION": "eu-west-1",
    "HOME": "/home/agent",
}


def _job_env(store, db_path, tmp_path, resource_args: dict) -> dict:
    make_code_job(store, tmp_path, "show", _SHOW_ENV)
    make_queue(store, config={"resource_args": resource_args})
    item_id = launch(store, "show")
    run_agent(db_path, environ=_AGENT_ENV)
    run = run_for_item(store, item_id)
    assert run.state is RunState.FINISHED, run.message
    return json.loads(store.run_log_path(run.id).read_text().splitlines()[0])


def test_by_default_a_job_inherits_the_agents_whole_environment(store, db_path, tmp_path):
    env = _job_env(store, db_path, tmp_path, {})
    assert env["AWS_SECRET_ACCESS_KEY"] == "s3cr3t-of-the-agent"
    assert env["AWS_REGION"] == "eu-west-1"


def test_inherit_env_false_passes_none_of_it_but_path_and_home(store, db_path, tmp_path):
    env = _job_env(store, db_path, tmp_path, {"inherit_env": False, "env": {"FROM_QUEUE": "q"}})
    assert env["AWS_SECRET_ACCESS_KEY"] is None and env["AWS_REGION"] is None
    assert env["PATH"] == os.environ["PATH"] and env["HOME"] == "/home/agent"
    assert env["FROM_QUEUE"] == "q"


def test_inherit_env_as_a_list_passes_only_those_names(store, db_path, tmp_path):
    env = _job_env(store, db_path, tmp_path, {"inherit_env": ["AWS_REGION"]})
    assert env["AWS_SECRET_ACCESS_KEY"] is None
    assert env["AWS_REGION"] == "eu-west-1" and env["PATH"] == os.environ["PATH"]


@pytest.mark.parametrize(
    ("queue_says", "launch_says"),
    [(False, True), (False, ["AWS_SECRET_ACCESS_KEY"]), (["AWS_REGION"], True)],
)
def test_a_launch_may_not_pass_more_of_the_agents_environment_than_its_queue(
    store, tmp_path, queue_says, launch_says
):
    make_code_job(store, tmp_path, "show", _SHOW_ENV)
    make_queue(store, config={"resource_args": {"inherit_env": queue_says}})
    with pytest.raises(BadInput) as refused:
        launch(store, "show", spec={"resource_args": {"inherit_env": launch_says}})
    assert refused.value.field == "resource_args.inherit_env"
    assert "may not ask for more" in refused.value.message


def test_a_launch_may_pass_less_than_its_queue(store, tmp_path):
    make_code_job(store, tmp_path, "show", _SHOW_ENV)
    make_queue(store, config={"resource_args": {"inherit_env": ["AWS_REGION", "LANG"]}})
    assert launch(store, "show", spec={"resource_args": {"inherit_env": ["LANG"]}})
    assert launch(store, "show", spec={"resource_args": {"inherit_env": False}})


@pytest.mark.parametrize("bad", ["yes", ["A=B"], [""], {"A": 1}])
def test_inherit_env_must_be_a_flag_or_a_list_of_names(store, tmp_path, bad):
    with pytest.raises(BadInput) as refused:
        make_queue(store, config={"resource_args": {"inherit_env": bad}})
    assert "inherit_env" in str(refused.value)

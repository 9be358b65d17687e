"""A template variable's value is launch input: the macros in it are never expanded. Macros
(`${env:…}`, `${run_id}`) are expanded once, in the queue's own text; what `--set-var` gives
reaches the job as the literal text it was."""

import json

import pytest
from kit import AgentThread, docker_queue, image_job, launch, make_code_job, make_queue, run_of

from runners.launch.templating import fill_placeholders, substitute_macros
from store import RunState

AGENT_SECRET = "agent-secret-" + "9f8e7d6c" * 3
LEAKING_VALUE = "${env:AWS_SECRET_ACCESS_KEY}"
RUN_ID_VALUE = "out/${run_id}-$${job_name}"

# The queue's own text uses macros too: those still expand.
QUEUE_CONFIG = {
    "resource_args": {
        "env": {
            "MODE": "{{mode}}",
            "MODE_TEXT": "mode={{mode}}-${queue_name}",
            "TAG": "{{tag}}",
        }
    },
    "template_variables": {
        "mode": {"type": "string", "default": "fast"},
        "tag": {"type": "string", "default": "t"},
    },
}

PRINT_ENV = """\
import json, os
print("ENV " + json.dumps({k: os.environ.get(k) for k in ("MODE", "MODE_TEXT", "TAG")}))
"""


@pytest.fixture
def agent_secret(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AGENT_SECRET)


def _expected(queue: str) -> dict:
    return {
        "MODE": LEAKING_VALUE,
        "MODE_TEXT": f"mode={LEAKING_VALUE}-{queue}",
        "TAG": RUN_ID_VALUE,
    }


def _set_vars() -> list[str]:
    return [f"mode={LEAKING_VALUE}", f"tag={RUN_ID_VALUE}"]


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("{{v}}", "${env:SECRET}"),
        ("a {{v}} b", "${env:SECRET}"),
        ("{{v}}{env:SECRET}", "x$"),  # a `$` of the value meets the queue's `{…}`
        ("${{v}}", "{env:SECRET}"),  # the queue's `$` meets the value's `{…}`
        ("{{v}}", "$${run_id}"),  # an escaped macro stays exactly as given
    ],
)
def test_no_macro_is_formed_from_a_variables_value(template, value):
    filled = fill_placeholders({"k": template}, {"v": value})
    rendered = substitute_macros(filled, {"run_id": "RUN"}, {"SECRET": AGENT_SECRET})
    assert rendered == {"k": template.replace("{{v}}", value)}
    assert AGENT_SECRET not in rendered["k"] and "RUN" not in rendered["k"]


def test_macros_of_the_queues_own_text_still_expand_beside_a_variable():
    filled = fill_placeholders({"k": "{{v}}/${run_id}/${env:HOME}"}, {"v": "${run_id}"})
    rendered = substitute_macros(filled, {"run_id": "RUN"}, {"HOME": "/home/agent"})
    assert rendered == {"k": "${run_id}/RUN//home/agent"}


def test_a_dry_run_shows_a_variables_macros_as_literal_text(store, cli, tmp_path, agent_secret):
    make_code_job(store, tmp_path, "show", PRINT_ENV)
    make_queue(store, "vars", QUEUE_CONFIG)
    args = [arg for value in _set_vars() for arg in ("-v", value)]
    result = cli("launch", "-j", "show", "-q", "vars", *args, "--dry-run")
    assert result.code == 0, result.err
    assert AGENT_SECRET not in result.out
    assert json.loads(result.out)["resource_args"]["env"] == _expected("vars")


def test_a_local_job_receives_a_variables_macros_as_literal_text(
    store, db_path, cli, tmp_path, agent_secret
):
    make_code_job(store, tmp_path, "show", PRINT_ENV)
    make_queue(store, "vars", QUEUE_CONFIG)
    item = launch(store, "show", "vars", set_vars=_set_vars())
    with AgentThread(db_path, queues=["vars"]):
        run = run_of(store, item)
    log = store.run_log_path(run.id).read_text()
    assert run.state is RunState.FINISHED, log
    assert f"ENV {json.dumps(_expected('vars'))}" in log
    assert AGENT_SECRET not in log
    described = cli("runs", "describe", run.id)
    assert described.code == 0, described.err
    assert AGENT_SECRET not in described.out and LEAKING_VALUE in described.out
    assert run.spec["resource_args"]["env"] == _expected("vars")


def test_a_container_never_receives_the_agents_secret_through_a_variable(
    store, db_path, engine, agent_secret
):
    docker_queue(store, "dvars", QUEUE_CONFIG)
    image_job(store, "dshow", 'echo "MODE=$MODE"; echo "TEXT=$MODE_TEXT"; echo "TAG=$TAG"')
    item = launch(store, "dshow", "dvars", set_vars=_set_vars())
    with AgentThread(db_path, queues=["dvars"]):
        run = run_of(store, item, timeout=120)
    log = store.run_log_path(run.id).read_text()
    assert run.state is RunState.FINISHED, log
    assert f"MODE={LEAKING_VALUE}" in log
    assert f"TEXT=mode={LEAKING_VALUE}-dvars" in log
    assert f"TAG={RUN_ID_VALUE}" in log
    assert AGENT_SECRET not in log
    assert AGENT_SECRET not in json.dumps(run.spec)

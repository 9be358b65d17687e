"""Secrets are hidden wherever launchbay shows a spec or a config: by the words of a name
(`DB_PASS`, `SSH_KEY`, not `KEYBOARD`), by `secret_env` lists of a queue or a launch, in a URL's
userinfo, after `--password=`/`--token`-style flags and in Kubernetes `{name, value}` pairs —
in `runs describe` (+ --json), dry runs, `queue describe`/`list` (+ --json), and through the one
`redact` the TUI calls. The job still gets every value: hiding is for display only."""

import json
import re

import pytest
from kit import AgentThread, launch, make_code_job, refusal_checker, run_of

from runners.launch.rendering import REDACTED, config_env, is_secret_name, redact, restore_redacted
from store import RunState, Store

DB_PASS = "pg-pass-" + "7c1d" * 3
SSH_KEY = "ssh-ed25519-" + "AAAAC3Nz" * 2
URL_PASSWORD = "url-pw-" + "b00c" * 3
CUSTOM = "custom-secret-" + "e5f6" * 3
LAUNCH_CUSTOM = "launch-secret-" + "a7b8" * 3
FLAG_SECRET = "flag-tok-" + "1f2e" * 3
SPACED_FLAG_SECRET = "spaced-pw-" + "3d4c" * 3
ALL_SECRETS = (DB_PASS, SSH_KEY, URL_PASSWORD, CUSTOM, LAUNCH_CUSTOM, FLAG_SECRET)


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASS",
        "SSH_KEY",
        "apiKey",
        "API_KEY",
        "githubToken",
        "HFTOKEN",
        "GITHUB_CREDENTIALS",
        "PRIVATE_REGISTRY_URL",
        "AUTH",
        "BASIC_AUTH_HEADER",
        "DB_PWD",
        "MY_SECRETKEY",
        "db-password",
        "SIGNING_KEY",
    ],
)
def test_a_name_with_a_secret_word_is_secret(name):
    assert is_secret_name(name)
    assert redact({name: "value-1234"}) == {name: REDACTED}


@pytest.mark.parametrize(
    "name",
    [
        "KEYBOARD_LAYOUT",
        "MONKEY_PATCH",
        "TOKENIZERS_PARALLELISM",
        "max_tokens",
        "AUTHOR",
        "key",  # a selector's or a ConfigMap item's `key`
        "COMPASS_HEADING",
        "PASSENGERS",
        "BYPASS_CACHE",
    ],
)
def test_a_harmless_name_that_merely_contains_a_secret_word_is_shown(name):
    assert not is_secret_name(name)
    assert redact({name: "value-1234"}) == {name: "value-1234"}


def test_a_urls_password_is_hidden_and_its_copies_too():
    shown = redact(
        {
            "env": {"DATABASE_URL": f"postgres://trainer:{URL_PASSWORD}@db:5432/runs"},
            "args": ["--dsn", f"mysql://root:{URL_PASSWORD}@h/x", f"echo {URL_PASSWORD}"],
            "plain": "https://example.com/a:b@c",  # not userinfo: a path
        }
    )
    assert shown["env"]["DATABASE_URL"] == "postgres://trainer:***@db:5432/runs"
    assert shown["args"] == ["--dsn", "mysql://root:***@h/x", "echo ***"]
    assert shown["plain"] == "https://example.com/a:b@c"


def test_a_short_url_password_is_hidden_in_place():
    assert redact("redis://:pw@cache:6379") == "redis://:***@cache:6379"


def test_secret_flag_values_are_hidden_in_argv_lists_and_command_strings():
    shown = redact(
        {
            "args": [
                f"--password={FLAG_SECRET}",
                "--token",
                "t0",
                "--api-key=k",
                "--epochs",
                "3",
                "--auth",
                "--verbose",
            ],
            "entry_point": ["sh", "-c", f"train --db-pass {SPACED_FLAG_SECRET} --lr 0.1"],
            "run_config": {"note": f"copied {FLAG_SECRET}"},
        }
    )
    assert shown["args"] == [
        "--password=***",
        "--token",
        "***",
        "--api-key=***",
        "--epochs",
        "3",
        "--auth",
        "--verbose",
    ]
    assert shown["entry_point"] == ["sh", "-c", "train --db-pass *** --lr 0.1"]
    assert shown["run_config"]["note"] == "copied ***"


def test_kubernetes_pairs_of_secret_and_declared_names_are_hidden():
    env = [
        {"name": "DB_PASS", "value": DB_PASS},
        {"name": "PLAIN", "value": CUSTOM},
        {"name": "EPOCHS", "value": "3"},
        {"name": "KEYBOARD", "value": "us"},
    ]
    shown = redact({"secret_env": ["PLAIN"], "containers": [{"env": env}]})
    assert shown["containers"][0]["env"] == [
        {"name": "DB_PASS", "value": REDACTED},
        {"name": "PLAIN", "value": REDACTED},
        {"name": "EPOCHS", "value": "3"},
        {"name": "KEYBOARD", "value": "us"},
    ]


def test_a_declared_name_is_hidden_with_its_copies_in_the_chunked_config():
    run_config = {"a": "x" * 40, "seed_note": CUSTOM}
    env = {"MODEL_LICENSE": CUSTOM, **config_env(json.dumps(run_config), 32)}
    text = json.dumps(redact({"secret_env": ["MODEL_LICENSE"], "env": env}))
    assert CUSTOM[:6] not in text and CUSTOM[-6:] not in text
    assert redact({"MODEL_LICENSE": CUSTOM}, secret_names=["MODEL_LICENSE"]) == {
        "MODEL_LICENSE": REDACTED
    }


def test_a_common_word_under_a_secret_name_does_not_hide_the_same_word_elsewhere():
    shown = redact({"env": {"AUTH_MODE": "none"}, "network": "none", "note": "none left"})
    assert shown == {"env": {"AUTH_MODE": REDACTED}, "network": "none", "note": "none left"}


def test_an_editor_round_trip_puts_every_kind_of_hidden_value_back():
    original = {
        "secret_env": ["MODEL_LICENSE"],
        "resource_args": {
            "env": {
                "DATABASE_URL": f"postgres://u:{URL_PASSWORD}@db/x",
                "MODEL_LICENSE": CUSTOM,
                "DB_PASS": DB_PASS,
                "EPOCHS": "3",
            },
            "args": ["--token", FLAG_SECRET],
        },
    }
    edited = redact(original)
    assert not any(s in json.dumps(edited) for s in (URL_PASSWORD, CUSTOM, DB_PASS, FLAG_SECRET))
    edited["resource_args"]["env"]["EPOCHS"] = "4"
    restored = restore_redacted(edited, original)
    assert restored["resource_args"]["env"] == {**original["resource_args"]["env"], "EPOCHS": "4"}
    assert restored["resource_args"]["args"] == ["--token", FLAG_SECRET]
    # A value the user typed over the *** is theirs.
    edited["resource_args"]["env"]["DB_PASS"] = "new-pass"
    assert restore_redacted(edited, original)["resource_args"]["env"]["DB_PASS"] == "new-pass"


# --- through the CLI and an agent --------------------------------------------------------------

QUEUE_CONFIG = {
    "secret_env": ["MODEL_LICENSE"],
    "resource_args": {
        "env": {
            "DB_PASS": DB_PASS,
            "SSH_KEY": SSH_KEY,
            "DATABASE_URL": f"postgres://trainer:{URL_PASSWORD}@db:5432/runs",
            "MODEL_LICENSE": CUSTOM,
            "KEYBOARD": "us",
        }
    },
}
LAUNCH_SPEC = {
    "secret_env": ["LAUNCH_ONLY"],
    "resource_args": {"env": {"LAUNCH_ONLY": LAUNCH_CUSTOM}},
}
PRINT_ENV = """\
import os, sys
names = ["DB_PASS", "SSH_KEY", "DATABASE_URL", "MODEL_LICENSE", "LAUNCH_ONLY", "KEYBOARD"]
print("GOT " + " ".join(os.environ[n] for n in names) + " " + " ".join(sys.argv[1:]))
"""


@pytest.fixture
def secret_world(db_path, tmp_path, cli):
    path = tmp_path / "queue.json"
    path.write_text(json.dumps(QUEUE_CONFIG))
    created = cli("queue", "create", "vault", "-r", "local-process", "-c", str(path), "--json")
    assert created.code == 0, created.err
    assert not any(secret in created.out for secret in ALL_SECRETS)
    store = Store.open(db_path)
    try:
        make_code_job(store, tmp_path, "show", PRINT_ENV)
    finally:
        store.close()


def _shows_no_secret(text: str) -> None:
    for secret in (*ALL_SECRETS, SPACED_FLAG_SECRET):
        assert secret not in text, secret
    assert re.search(r'KEYBOARD"?: "?us', text), text  # a harmless name is shown


def _launch_args(*extra: str) -> list[str]:
    return [
        "launch",
        "-j",
        "show",
        "-q",
        "vault",
        "-c",
        json.dumps(LAUNCH_SPEC),
        "-a",
        f"--password={FLAG_SECRET}",
        *extra,
    ]


def test_queue_describe_and_list_hide_every_kind_of_secret(secret_world, cli):
    for args in (
        ["queue", "describe", "vault"],
        ["queue", "describe", "vault", "--json"],
        ["queue", "list", "--json"],
    ):
        result = cli(*args)
        assert result.code == 0, result.err
        _shows_no_secret(result.out)
    described = json.loads(cli("queue", "describe", "vault", "--json").out)
    env = described["config"]["resource_args"]["env"]
    assert env["MODEL_LICENSE"] == REDACTED
    assert env["DATABASE_URL"] == "postgres://trainer:***@db:5432/runs"


def test_a_dry_run_and_an_enqueued_item_hide_the_launchs_secrets(secret_world, cli):
    dry = cli(*_launch_args("--dry-run"))
    assert dry.code == 0, dry.err
    _shows_no_secret(dry.out)
    spec = json.loads(dry.out)
    assert spec["secret_env"] == ["LAUNCH_ONLY", "MODEL_LICENSE"]
    assert spec["resource_args"]["env"]["LAUNCH_ONLY"] == REDACTED
    assert spec["args"] == ["--password=***"]
    enqueued = cli(*_launch_args("--json"))
    assert enqueued.code == 0, enqueued.err
    _shows_no_secret(enqueued.out)
    waiting = cli("queue", "describe", "vault", "--json")
    _shows_no_secret(waiting.out)


def test_runs_describe_hides_them_and_the_job_still_gets_every_value(
    secret_world, db_path, cli, store
):
    item = launch(store, "show", "vault", spec=LAUNCH_SPEC, args=[f"--password={FLAG_SECRET}"])
    with AgentThread(db_path, queues=["vault"]):
        run = run_of(store, item)
    log = store.run_log_path(run.id).read_text()
    assert run.state is RunState.FINISHED, log
    database_url = f"postgres://trainer:{URL_PASSWORD}@db:5432/runs"
    got = f"GOT {DB_PASS} {SSH_KEY} {database_url} {CUSTOM} {LAUNCH_CUSTOM} us"
    assert f"{got} --password={FLAG_SECRET}" in log
    for args in (["runs", "describe", run.id], ["runs", "describe", run.id, "--json"]):
        result = cli(*args)
        assert result.code == 0, result.err
        _shows_no_secret(result.out)


@pytest.mark.parametrize("value", ["DB_PASS", ["1BAD"], [3], {"a": 1}])
def test_a_bad_secret_env_is_refused(secret_world, db_path, cli, value):
    refused = refusal_checker(cli, db_path)
    config = json.dumps({**QUEUE_CONFIG, "secret_env": value})
    refused(
        ["queue", "create", "bad", "-r", "local-process", "-c", config],
        "secret_env: ",
        "expected a list of environment variable names",
    )
    spec = json.dumps({"secret_env": value})
    refused(
        ["launch", "-j", "show", "-q", "vault", "-c", spec],
        "secret_env: ",
        "expected a list of environment variable names",
    )


def test_a_kubernetes_dry_run_and_queue_describe_hide_secret_env_pairs(db_path, cli):
    from runners.catalog.jobs import create_job
    from runners.catalog.queues import check_queue_config

    env = [
        {"name": "DB_PASS", "value": DB_PASS},
        {"name": "MODEL_LICENSE", "value": CUSTOM},
        {"name": "DATABASE_URL", "value": f"postgres://u:{URL_PASSWORD}@db/x"},
    ]
    template = {"spec": {"template": {"spec": {"containers": [{"name": "main", "env": env}]}}}}
    config = {"resource_args": template, "secret_env": ["MODEL_LICENSE"]}
    store = Store.open(db_path)
    try:
        store.queues.create("k8s", "kubernetes", check_queue_config("kubernetes", config))
        create_job(store, "image", "img", "local/busybox:latest", entrypoint="echo hi")
    finally:
        store.close()
    dry = cli("launch", "-j", "img", "-q", "k8s", "-a", f"--token={FLAG_SECRET}", "--dry-run")
    assert dry.code == 0, dry.err
    manifest = json.loads(dry.out)["submission"]["manifest"]
    shown = manifest["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "DB_PASS", "value": REDACTED} in shown
    assert {"name": "MODEL_LICENSE", "value": REDACTED} in shown
    assert {"name": "DATABASE_URL", "value": "postgres://u:***@db/x"} in shown
    for result in (dry, cli("queue", "describe", "k8s"), cli("queue", "describe", "k8s", "--json")):
        assert result.code == 0, result.err
        for secret in (DB_PASS, CUSTOM, URL_PASSWORD, FLAG_SECRET):
            assert secret not in result.out

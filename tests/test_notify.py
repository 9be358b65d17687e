"""Run-end notifications through apprise (issue 16): a queue's or the config file's `notify:`
sends to a webhook on 127.0.0.1; a failing notifier is written on the run and the agent goes
on; the URLs never show in full."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kit import launch, log_of, make_code_job, make_queue, refusal_checker, run_agent, run_of

from store import RunState


class Webhook:
    """A local HTTP server that answers `status` and keeps each JSON body it was sent."""

    def __init__(self, status: int = 200):
        received = self.received = []
        answer = status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(answer)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def failing_webhook():
    hook = Webhook(status=500)
    yield hook
    hook.close()


@pytest.fixture
def jobs(store, tmp_path):
    make_code_job(store, tmp_path, "ok", "print('fine')")
    make_code_job(store, tmp_path, "broken", "raise SystemExit(3)")


def test_a_queues_notify_sends_the_states_it_names_to_a_webhook(store, db_path, jobs, webhook):
    make_queue(store, config={"notify": {"urls": [webhook.url], "on": ["failed"]}})
    finished = launch(store, "ok")
    failed = launch(store, "broken")

    run_agent(db_path, queues=["local"])

    run = run_of(store, failed)
    assert run_of(store, finished).state is RunState.FINISHED
    assert len(webhook.received) == 1, webhook.received
    sent = webhook.received[0]
    assert sent["title"] == f"launchbay: run {run.id} failed"
    assert sent["message"].startswith("broken:v0 on local: failed (exited with code 3)")
    assert sent["type"] == "failure"


def test_the_config_files_notify_applies_to_queues_without_one(
    store, db_path, jobs, webhook, config_dir
):
    (config_dir / "config.yaml").write_text(f"notify:\n  urls: ['{webhook.url}']\n")
    make_queue(store)
    item = launch(store, "ok")

    run_agent(db_path, queues=["local"])

    run = run_of(store, item)
    assert [s["title"] for s in webhook.received] == [f"launchbay: run {run.id} finished"]
    assert webhook.received[0]["type"] == "success"


def test_a_failing_notifier_is_logged_on_the_run_and_the_agent_goes_on(
    store, db_path, jobs, failing_webhook
):
    make_queue(store, config={"notify": {"urls": [failing_webhook.url]}})
    first, second = launch(store, "broken"), launch(store, "ok")

    run_agent(db_path, queues=["local"])

    assert run_of(store, second).state is RunState.FINISHED  # the agent went on
    assert len(failing_webhook.received) == 2  # both were tried
    failed_run = run_of(store, first)
    log = log_of(store, failed_run.id)
    assert "[launchbay] notification failed: json://*** (not delivered)" in log
    last = store.runs.events(failed_run.id)[-1]  # and in the run's timeline
    assert (last.from_state, last.to_state) == ("failed", "failed")
    assert last.message == "notification failed: json://*** (not delivered)"
    assert failing_webhook.url.split("://")[1] not in log


def test_notify_urls_show_as_their_scheme_only(store, cli, webhook):
    make_queue(store, config={"notify": {"urls": [webhook.url]}})
    described = cli("queue", "describe", "local")
    assert described.code == 0
    assert "json://***" in described.out and "127.0.0.1" not in described.out


@pytest.mark.parametrize(
    ("notify", "fragments"),
    [
        ({"urls": ["not a url"]}, ("notify.urls", "expected SCHEME://")),
        ({"urls": []}, ("notify.urls",)),
        ({"urls": ["json://h/x"], "on": ["running"]}, ("notify.on",)),
        ({"urls": ["json://h/x"], "every": 1}, ("notify.every", "unknown key")),
    ],
)
def test_a_bad_notify_block_is_refused_naming_its_key(
    store, cli, db_path, tmp_path, notify, fragments
):
    refused = refusal_checker(cli, db_path)
    config = tmp_path / "queue.json"
    config.write_text(json.dumps({"notify": notify}))
    refused(
        ["queue", "create", "q", "--resource", "local-process", "--config", str(config)],
        *fragments,
    )

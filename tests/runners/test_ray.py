"""The ray resource against a real Ray head (scripts/services/ray.sh starts it in a network
namespace; tests/kit/ray.py joins it): the contract (TestContract, see contract.py), and what
only ray does (the entry point's quoting, the runtime_env, the resources allow-list, a job
stopped outside launchbay, a lost head, an address that answers nothing)."""

import json
import sys

import pytest
import yaml
from contract import RunnerContract
from contract_backend import HELD_PYTHON_START, Backend, seen_in_log
from kit import (
    REPO,
    AgentThread,
    launch,
    log_of,
    refusal_checker,
    run_of,
    wait_for,
    write_code_job,
)
from kit.ray import (
    RAY_ADDRESS,
    Forwarder,
    job_monitor_done,
    ray_client,
    supervisor_resources,
)

from runners.catalog.jobs import create_job
from runners.catalog.queues import check_queue_config
from runners.targets.ray.request import submission_id
from store import RunState

pytestmark = pytest.mark.usefixtures("ray_head")

HELD_JOB = (
    HELD_PYTHON_START
    + """speak, spoke = go + ".speak", False
while not os.path.exists(go):
    if not spoke and os.path.exists(speak):
        print("written while no agent watched", flush=True)
        spoke = True
    time.sleep(0.05)
if not spoke and os.path.exists(speak):
    print("written while no agent watched", flush=True)
print("after", flush=True)
sys.exit({exit_code})
"""
)


def ray_queue(store, name="q", resource_args=None, address=RAY_ADDRESS, **extra):
    config = {
        "resource_args": resource_args or {},
        "target": {"address": address, "poll_seconds": 0.2, "request_timeout_seconds": 10},
        **extra,
    }
    return store.queues.create(name, "ray", check_queue_config("ray", config))


class Ray(Backend):
    resource = "ray"
    failure_says = "exited with code 3"
    # A Ray job can be deleted only once it has ended: the test stops and deletes it while no
    # agent watches, so no agent sees it stopped first.
    vanish_modes = ("while-no-agent-ran",)
    escape = (
        {"pip": ["requests"]},
        {"pip": ["requests", "something-else"]},
        ("resource_args.pip", "only in the queue's own config"),
    )

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.go_dir = tmp_path / "go"  # the head runs on this machine: it sees this folder
        self.go_dir.mkdir()

    def queue(self, store, resource_args=None, **extra):
        resource_args = dict(resource_args or {})
        resource_args["env"] = {"GO_DIR": str(self.go_dir), **resource_args.get("env", {})}
        resource_args.setdefault("stop_grace_seconds", 30)
        ray_queue(store, resource_args=resource_args, **extra)

    def held_job(self, store, name, exit_code=0):
        folder = write_code_job(self.tmp_path / f"src-{name}", HELD_JOB.format(exit_code=exit_code))
        create_job(store, "code", name, str(folder), entrypoint=f"{sys.executable} main.py")

    def while_no_agent_runs(self, store, run):
        (self.go_dir / f"{run.id}.speak").touch()  # the job prints a line no agent copies yet

    def release(self, store, run):
        (self.go_dir / run.id).touch()

    def seen(self, store, run):
        return seen_in_log(store, run)

    def vanish(self, store, run):
        client, job = ray_client(), submission_id(run.id)
        client.stop_job(job)
        wait_for(lambda: job_monitor_done(job), 60, "Ray's job monitor to see the job end")
        assert client.delete_job(job)

    def check_failed(self, store, run):
        assert run.exit_code == 3

    def check_cancelled(self, store, run):
        assert str(ray_client().get_job_status(submission_id(run.id))) == "STOPPED"

    def check_readopted(self, store, run, output):
        assert log_of(store, run.id).count("written while no agent watched") == 1
        # One Ray job per run, found again by its submission id.
        jobs = [j for j in ray_client().list_jobs() if j.submission_id == submission_id(run.id)]
        assert len(jobs) == 1 and str(jobs[0].status) == "SUCCEEDED"


@pytest.fixture
def backend(tmp_path):
    return Ray(tmp_path)


class TestContract(RunnerContract):
    backend_class = Ray


# -- what only ray does -------------------------------------------------------------------------

ECHO_JOB = """
import json, os, sys
print("argv=" + json.dumps(sys.argv[1:]), flush=True)
print("config=" + open(os.environ["LAUNCHBAY_CONFIG_FILE"]).read().replace("\\n", ""), flush=True)
print("env=" + json.dumps({k: os.environ.get(k) for k in ("FOO", "LAUNCHBAY_QUEUE")}), flush=True)
"""


def echo_job(store, tmp_path, name="echo"):
    folder = write_code_job(tmp_path / f"src-{name}", ECHO_JOB)
    create_job(store, "code", name, str(folder), entrypoint=f"{sys.executable} main.py")


def printed(store, run, key: str):
    line = next(x for x in log_of(store, run.id).splitlines() if x.startswith(f"{key}="))
    return json.loads(line.split("=", 1)[1])


# (`$${…}` is launchbay's own escape of a literal `${…}`: the job gets `${PATH}`.)
HOSTILE = [
    "a b",
    "$HOME",
    "$${PATH}",
    "'q",
    '"dq"',
    "; touch /tmp/lb-pwned",
    "`id`",
    "$(id)",
    "x\ny",
]


def test_hostile_args_and_a_config_with_dollars_reach_the_job_word_for_word(
    store, db_path, tmp_path
):
    ray_queue(store, resource_args={"env": {"FOO": "bar"}})
    echo_job(store, tmp_path)
    config = {"path": "$HOME/data", "cmd": "$(id)"}
    overrides = {"args": HOSTILE, "run_config": config}  # a list: each word as it is
    item = launch(store, "echo", "q", spec={"overrides": overrides})
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, (run.message, log_of(store, run.id))
    assert printed(store, run, "argv") == [arg.replace("$${", "${") for arg in HOSTILE]
    assert printed(store, run, "config") == config
    assert printed(store, run, "env") == {"FOO": "bar", "LAUNCHBAY_QUEUE": "q"}
    # Ray's own line naming the command (and its args) is not copied into the run's log.
    assert "Running entrypoint" not in log_of(store, run.id)


def test_the_runtime_env_and_the_entry_points_resources_reach_ray(store, db_path, tmp_path, cli):
    args = {
        "env": {"FOO": "bar"},
        "entrypoint_num_cpus": 1,
        "entrypoint_memory": 1_000_000,
        "entrypoint_resources": {"launchbay_test": 1},
        "stop_grace_seconds": 4.5,
    }
    ray_queue(store, resource_args=args)
    echo_job(store, tmp_path)
    item = launch(store, "echo", "q", args=["one"])
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FINISHED, (run.message, log_of(store, run.id))
    job = ray_client().get_job_info(submission_id(run.id))
    assert job.entrypoint.endswith(" main.py one")
    reserved = supervisor_resources(submission_id(run.id))
    assert reserved == {"CPU": 1, "memory": 1_000_000, "launchbay_test": 1}
    assert job.runtime_env["env_vars"] == {"FOO": "bar", "RAY_JOB_STOP_WAIT_TIME_S": "5"}
    assert job.runtime_env["working_dir"].startswith("gcs://_ray_pkg_")  # the code, uploaded
    assert job.metadata["launchbay_run_id"] == run.id
    # The dry run shows the same request, offline.
    dry = json.loads(cli("launch", "-j", "echo", "-q", "q", "--dry-run", "--json").out)
    request = dry["submission"]
    assert request["entrypoint"] == job.entrypoint.removesuffix(" one")  # the dry run: no args
    assert request["runtime_env"]["env_vars"] == job.runtime_env["env_vars"]
    assert request["entrypoint_resources"] == {"launchbay_test": 1}


def test_the_resource_args_are_an_allow_list(store, db_path, cli, tmp_path):
    refused = refusal_checker(cli, db_path)
    config = tmp_path / "q.json"
    target = {"address": RAY_ADDRESS}
    for resource_args, fragments in (
        ({"num_gpus": 1}, ("resource_args.num_gpus", "unknown key", "entrypoint_num_gpus")),
        ({"entrypoint_resources": {"CPU": 2}}, ("entrypoint_resources.CPU", "entrypoint_num_cpus")),
        ({"entrypoint_num_cpus": "2"}, ("resource_args.entrypoint_num_cpus", "a number")),
        ({"entrypoint_num_gpus": True}, ("resource_args.entrypoint_num_gpus", "a number")),
        ({"entrypoint_resources": {"tpu": -1}}, ("entrypoint_resources.tpu", "greater than")),
        ({"runtime_env": {"conda": "x"}}, ("resource_args.runtime_env", "unknown key")),
    ):
        config.write_text(json.dumps({"resource_args": resource_args, "target": target}))
        refused(["queue", "create", "r", "-r", "ray", "-c", str(config)], *fragments)
    refused(["queue", "create", "r", "-r", "ray"], "target.address", "http://HEAD:8265")
    ray_queue(store)
    echo_job(store, tmp_path)
    launch_args = json.dumps({"resource_args": {"gpus": 1}})
    refused(["launch", "-j", "echo", "-q", "q", "-c", launch_args], "resource_args.gpus")


def test_the_readmes_example_queue_is_taken_and_its_dry_run_shows_what_ray_gets(
    store, tmp_path, cli
):
    readme = (REPO / "README.md").read_text()
    example = readme.split("### Ray queues", 1)[1].split("```yaml", 1)[1].split("```")[0]
    config = yaml.safe_load(example)
    config["target"]["address"] = RAY_ADDRESS  # the test's head, for --check
    path = tmp_path / "ray-queue.json"
    path.write_text(json.dumps(config))
    result = cli("queue", "create", "big", "-r", "ray", "-c", str(path), "--check")
    assert result.code == 0, result.err
    echo_job(store, tmp_path)
    result = cli("launch", "-j", "echo", "-q", "big", "--dry-run", "--json")
    assert result.code == 0, result.err
    request = json.loads(result.out)["submission"]
    assert request["entrypoint_num_gpus"] == 1
    assert request["entrypoint_resources"] == {"accelerator_type_a100": 1}
    assert request["runtime_env"]["pip"] == ["torch==2.5.1"]
    assert request["runtime_env"]["py_modules"] == ["/opt/shared/mylib"]
    assert request["runtime_env"]["env_vars"]["RAY_JOB_STOP_WAIT_TIME_S"] == "30"


def test_a_job_stopped_outside_launchbay_stops_the_run_with_rays_message(store, db_path, tmp_path):
    backend = Ray(tmp_path)
    backend.queue(store)
    backend.held_job(store, "held")
    item = launch(store, "held", "q")
    with AgentThread(db_path):
        run = run_of(store, item, {RunState.RUNNING})
        wait_for(lambda: "before" in log_of(store, run.id), 60, "the job's first line")
        ray_client().stop_job(submission_id(run.id))
        run = run_of(store, item)
    assert run.state is RunState.STOPPED, run.message
    assert "stopped" in run.message.lower()


def test_a_lost_head_keeps_the_run_running_saying_so_and_its_lines_are_copied_once(
    store, db_path, tmp_path
):
    forwarder = Forwarder(RAY_ADDRESS).start()  # the head, as the agent sees it
    backend = Ray(tmp_path)
    ray_queue(
        store,
        resource_args={"env": {"GO_DIR": str(backend.go_dir)}},
        address=forwarder.address,
    )
    backend.held_job(store, "held")
    item = launch(store, "held", "q")
    try:
        with AgentThread(db_path):
            run = run_of(store, item, {RunState.RUNNING})
            wait_for(lambda: "before" in log_of(store, run.id), 60, "the job's first line")
            forwarder.stop()  # the head is lost
            wait_for(lambda: "for now" in (store.runs.get(run.id).message or ""), 30, "the message")
            lost = store.runs.get(run.id)
            assert lost.state is RunState.RUNNING
            assert f"the Ray Jobs API at {forwarder.address} cannot be read for now" in lost.message
            backend.release(store, run)  # the job ends while no one can see it
            forwarder.start()  # the head is back, at the same address
            run = run_of(store, item)
    finally:
        forwarder.stop()
    assert run.state is RunState.FINISHED, run.message
    lines = [line for line in log_of(store, run.id).splitlines() if not line.startswith("[")]
    assert lines.count("before") == 1 and lines.count("after") == 1, lines


def test_an_address_that_answers_nothing_is_refused_by_check_and_fails_the_run_at_the_agent(
    store, db_path, cli, tmp_path
):
    nowhere = Forwarder(RAY_ADDRESS).address  # a free port: nothing listens there
    config = tmp_path / "q.json"
    config.write_text(json.dumps({"target": {"address": nowhere}}))
    refused = refusal_checker(cli, db_path)
    refused(
        ["queue", "create", "q", "-r", "ray", "-c", str(config), "--check"],
        "target.address",
        nowhere,
    )
    assert (
        cli(
            "queue", "create", "ok", "-r", "ray", "--check", "-c", _file(tmp_path, RAY_ADDRESS)
        ).code
        == 0
    )
    assert cli("queue", "create", "q", "-r", "ray", "-c", str(config)).code == 0  # no --check
    echo_job(store, tmp_path)
    bad, good = launch(store, "echo", "q"), launch(store, "echo", "ok")
    with AgentThread(db_path):
        failed, finished = run_of(store, bad), run_of(store, good)
    assert failed.state is RunState.FAILED and failed.error_stage == "run"
    assert f"cannot reach the Ray Jobs API at {nowhere}" in failed.error_message
    assert finished.state is RunState.FINISHED  # the agent went on


def _file(tmp_path, address: str) -> str:
    path = tmp_path / f"target-{len(address)}.json"
    path.write_text(json.dumps({"target": {"address": address}}))
    return str(path)


def test_queue_update_with_check_refuses_an_address_that_answers_nothing(
    store, db_path, cli, tmp_path
):
    nowhere = Forwarder(RAY_ADDRESS).address  # a free port: nothing listens there
    assert cli("queue", "create", "q", "-r", "ray", "-c", _file(tmp_path, RAY_ADDRESS)).code == 0
    refused = refusal_checker(cli, db_path)
    refused(
        ["queue", "update", "q", "--check", "-c", _file(tmp_path, nowhere)],
        "target.address",
        nowhere,
    )
    assert store.queues.get("q").config["target"]["address"] == RAY_ADDRESS
    assert cli("queue", "update", "q", "--check", "--max-concurrency", "2").code == 0
    assert cli("queue", "update", "q", "-c", _file(tmp_path, nowhere)).code == 0  # no --check
    assert store.queues.get("q").config["target"]["address"] == nowhere

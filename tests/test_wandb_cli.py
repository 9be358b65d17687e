"""W&B's CLI flags where launchbay has the same thing: `launch --entry-point`, `-u/--uri` and
`-d/--docker-image` (the job made or reused), `-R`, `-D`, `--name`; `agent -c` with W&B's
agent config keys."""

import json
import sys

import pytest
from kit import git, make_queue, run_for_item, write_code_job

from runners.catalog.queues import check_queue_config
from store import RunState


def _dry_run(cli, *args) -> dict:
    result = cli("launch", "-q", "local", "--dry-run", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


def _jobs(store) -> list[tuple[str, int]]:
    return sorted((version.name, count) for version, count in store.jobs.list_latest())


def test_launch_help_shows_wandbs_flag_names(cli):
    shown = cli("launch", "--help").out
    for flag in (
        "-E, --entry-point, --entrypoint",
        "-u, --uri PATH_OR_GIT_URL",
        "-d, --docker-image IMAGE",
        "-R, --resource-args",
        "-D, --dockerfile",
        "--name NAME",
    ):
        assert flag in shown


def test_entry_point_is_entrypoint(store, cli, tmp_path):
    make_queue(store)
    src = write_code_job(tmp_path / "src", "print('hi')")
    for flag in ("--entry-point", "--entrypoint", "-E"):
        spec = _dry_run(cli, "-u", str(src), flag, "python3 other.py --fast")
        assert spec["entry_point"] == ["python3", "other.py", "--fast"]
    # `job create` takes W&B's spelling too (`wandb job create -E/--entry-point`).
    for index, flag in enumerate(("--entry-point", "--entrypoint", "-E")):
        made = cli("job", "create", "code", f"job{index}", str(src), flag, "python3 other.py")
        assert made.code == 0, made.err
        shown = cli("job", "describe", f"job{index}")
        assert "python3 other.py" in shown.out, shown.out


def test_uri_of_a_directory_makes_a_code_job_once_and_reuses_it(store, cli, tmp_path):
    make_queue(store)
    src = write_code_job(tmp_path / "train", "print('v1')")
    first = cli("launch", "-q", "local", "-u", str(src))
    second = cli("launch", "-q", "local", "-u", str(src) + "/")
    assert (first.code, second.code) == (0, 0), (first.err, second.err)
    assert "created job code-train-" in first.err and "reusing job code-train-" in second.err
    ((name, versions),) = _jobs(store)
    assert name.startswith("code-train-") and versions == 1
    # Changed code: a new version of the same job. Another folder named alike: another job.
    (src / "main.py").write_text("print('v2')")
    assert cli("launch", "-q", "local", "-u", str(src)).code == 0
    other = write_code_job(tmp_path / "elsewhere" / "train", "print('other')")
    assert cli("launch", "-q", "local", "-u", str(other)).code == 0
    jobs = _jobs(store)
    assert len(jobs) == 2 and (name, 2) in jobs


def test_uri_of_a_git_url_makes_a_git_job(store, cli, tmp_path):
    make_queue(store)
    repo = write_code_job(tmp_path / "repo", "print('from git')")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    url = f"file://{repo}"
    assert cli("launch", "-q", "local", "-u", url).code == 0
    assert cli("launch", "-q", "local", "-u", url).code == 0
    ((name, versions),) = _jobs(store)
    assert name.startswith("git-repo-") and versions == 1
    assert store.jobs.resolve(name).source["url"] == url


def test_a_dry_run_or_a_refused_launch_from_a_uri_leaves_no_job(store, cli, tmp_path):
    make_queue(store)
    src = write_code_job(tmp_path / "src", "print('hi')")
    spec = _dry_run(cli, "-u", str(src))
    assert spec["job"]["type"] == "code"
    refused = cli("launch", "-q", "nope", "-u", str(src))
    assert refused.code == 2
    image = cli("launch", "-q", "local", "-d", "python:3.11-slim")  # local-process: no images
    assert image.code == 2 and "image job" in image.err
    assert _jobs(store) == []
    assert store.items.waiting(store.queues.get("local").id) == []


def test_docker_image_makes_an_image_job_once(store, cli):
    store.queues.create("box", "docker", check_queue_config("docker", {}))
    for _ in range(2):
        result = cli("launch", "-q", "box", "-d", "registry:5000/team/serve:3")
        assert result.code == 0, result.err
    ((name, versions),) = _jobs(store)
    assert name.startswith("image-serve-3-") and versions == 1
    assert store.jobs.resolve(name).source == {"image": "registry:5000/team/serve:3"}


@pytest.mark.parametrize(
    "resource_args",
    ['{"env": {"FROM_R": "yes"}}', '{"local-process": {"env": {"FROM_R": "yes"}}}'],
)
def test_resource_args_replace_the_specs(store, cli, tmp_path, resource_args):
    make_queue(store, config={"resource_args": {"env": {"FROM_QUEUE": "q"}}})
    src = write_code_job(tmp_path / "src", "print('hi')")
    spec_args = json.dumps({"resource_args": {"env": {"FROM_SPEC": "s"}}})
    spec = _dry_run(cli, "-u", str(src), "-c", spec_args, "-R", resource_args)
    assert spec["resource_args"]["env"] == {"FROM_QUEUE": "q", "FROM_R": "yes"}


def test_resource_args_from_a_file(store, cli, tmp_path):
    make_queue(store)
    src = write_code_job(tmp_path / "src", "print('hi')")
    path = tmp_path / "args.yaml"
    path.write_text("env: {FROM_FILE: 'yes'}\n")
    assert _dry_run(cli, "-u", str(src), "-R", str(path))["resource_args"]["env"] == {
        "FROM_FILE": "yes"
    }


def test_dockerfile_on_a_queue_that_builds_nothing_is_refused(store, cli, tmp_path):
    make_queue(store)
    src = write_code_job(tmp_path / "src", "print('hi')")
    result = cli("launch", "-q", "local", "-u", str(src), "-D", "Dockerfile.gpu")
    assert result.code == 2
    assert "-D/--dockerfile" in result.err and "runs no containers" in result.err
    assert _jobs(store) == []


def test_name_is_the_runs_wandb_name_and_run_name_macro(store, cli, tmp_path):
    make_queue(store, config={"resource_args": {"env": {"RUN_DIR": "/scratch/${run_name}"}}})
    src = write_code_job(tmp_path / "src", "print('hi')")
    spec = _dry_run(cli, "-u", str(src), "--name", "baseline-3")
    assert spec["env"]["WANDB_NAME"] == "baseline-3"
    assert spec["resource_args"]["env"]["RUN_DIR"] == "/scratch/baseline-3"
    unnamed = _dry_run(cli, "-u", str(src))
    assert "WANDB_NAME" not in unnamed["env"]
    assert unnamed["resource_args"]["env"]["RUN_DIR"] == "/scratch/dryrun00"  # the run id
    bad = cli("launch", "-q", "local", "-u", str(src), "--name", "two\nlines")
    assert bad.code == 2 and bad.err.startswith("launchbay: error: --name")


def _agent_config(tmp_path, text: str) -> str:
    path = tmp_path / "launch-config.yaml"
    path.write_text(text)
    return str(path)


def test_agent_config_queues_and_max_jobs_are_honoured(store, cli, db_path, tmp_path):
    for name in ("served", "other"):
        make_queue(store, name)
    src = write_code_job(tmp_path / "src", "print('ran')")
    entry = f"{sys.executable} main.py"
    served = cli("launch", "-q", "served", "-u", str(src), "-E", entry, "--json")
    other = cli("launch", "-q", "other", "-u", str(src), "-E", entry, "--json")
    config = _agent_config(tmp_path, "entity: my-team\nqueues: [served]\nmax_jobs: 2\n")
    result = cli("agent", "-c", config, "--until-empty")
    assert result.code == 0, result.err
    assert "warning: entity in" in result.err and "no W&B entity" in result.err
    assert run_for_item(store, json.loads(served.out)["id"]).state is RunState.FINISHED
    assert store.runs.find_for_item(json.loads(other.out)["id"]) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("secure_mode: true\n", "-c/--config secure_mode: launchbay has no secure mode"),
        ("registry: {url: x}\n", "-c/--config registry: is W&B's agent's"),
        ("builder: {type: kaniko}\n", "-c/--config builder: is W&B's agent's"),
        ("queues: [a]\nmaxjobs: 3\n", "-c/--config maxjobs: unknown key"),
        ("max_jobs: many\n", "-c/--config max_jobs: 'many'; expected -1"),
    ],
)
def test_agent_config_keys_that_would_change_what_runs_are_refused(cli, tmp_path, text, says):
    result = cli("agent", "-c", _agent_config(tmp_path, text), "--until-empty")
    assert result.code == 2
    assert result.err.strip() == f"launchbay: error: {says}" or says in result.err
    assert len(result.err.strip().splitlines()) == 1

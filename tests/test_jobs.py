"""Jobs end to end: code snapshots, pinned git commits, image jobs, input schemas, and what a
run really receives (macros, template variables, LAUNCHBAY_* env, the config file, redaction)."""

import hashlib
import json
import os
import tarfile
from pathlib import Path

import pytest
from kit import PYTHON_ENTRYPOINT, git, launch, make_code_job, make_queue, run_agent

from runners.catalog.jobs import create_job
from runners.catalog.snapshots import snapshot_directory
from runners.launch.templating import fill_placeholders
from store import NotFound, RunState


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def archive_members(store, digest: str) -> list[str]:
    with tarfile.open(store.artifacts.path_for(digest), "r:gz") as tar:
        return sorted(tar.getnames())


def job_count(store) -> int:
    return store.conn.execute("SELECT COUNT(*) FROM job_versions").fetchone()[0]


def item_count(store) -> int:
    return store.conn.execute("SELECT COUNT(*) FROM queue_items").fetchone()[0]


def run_of(store, item_id: int):
    run = store.runs.find_for_item(item_id)
    assert run is not None, store.items.get(item_id)
    return run


def run_log(store, run) -> str:
    return (store.run_dir(run.id) / "output.log").read_text()


# -- code jobs ------------------------------------------------------------------------------


def test_code_job_gets_a_new_version_only_when_its_content_changes(store, cli, tmp_path):
    src = write_tree(tmp_path / "src", {"main.py": "print('one')\n"})

    first = cli("job", "create", "code", "train", str(src))
    assert first.code == 0, first.err
    assert first.out.startswith("created train:v0 (code, digest ")

    (src / "main.py").write_text("print('two')\n")
    second = cli("job", "create", "code", "train", str(src), "--json")
    assert second.code == 0, second.err
    created = json.loads(second.out)
    assert (created["ref"], created["created"]) == ("train:v1", True)

    versions = store.jobs.versions("train")
    assert [v.version for v in versions] == [1, 0]
    assert versions[0].aliases == ("latest",)
    assert versions[1].aliases == ()
    assert versions[0].source["artifact"] != versions[1].source["artifact"]
    assert store.jobs.resolve("train").version == 1


def test_recreating_identical_code_says_so_and_adds_no_version(store, cli, tmp_path):
    src = write_tree(tmp_path / "src", {"main.py": "print('one')\n"})
    assert cli("job", "create", "code", "train", str(src)).code == 0

    again = cli("job", "create", "code", "train", str(src), "--alias", "stable")
    assert again.code == 0, again.err
    assert "train: same content as train:v0; no new version added" in again.out
    assert "aliases of train:v0: latest, stable" in again.out
    assert [v.version for v in store.jobs.versions("train")] == [0]
    assert store.jobs.resolve("train:stable").version == 0


def test_latest_follows_the_newest_version_and_aliases_resolve(store, cli, tmp_path):
    src = write_tree(tmp_path / "src", {"main.py": "print(0)\n"})
    assert cli("job", "create", "code", "train", str(src), "-a", "stable").code == 0
    (src / "main.py").write_text("print(1)\n")
    out = cli("job", "create", "code", "train", str(src), "--alias", "candidate", "-a", "exp-1")
    assert out.code == 0, out.err
    assert "aliases of train:v1: latest, candidate, exp-1" in out.out

    def version_of(ref: str) -> int:
        return store.jobs.resolve(ref).version

    assert version_of("train") == 1
    assert version_of("train:latest") == 1
    assert version_of("train:v0") == 0
    assert version_of("train:v1") == 1
    assert version_of("train:stable") == 0
    assert version_of("train:candidate") == 1
    assert version_of("train:exp-1") == 1

    # An alias given again for a newer version moves there; latest moves on by itself.
    (src / "main.py").write_text("print(2)\n")
    assert cli("job", "create", "code", "train", str(src), "-a", "stable").code == 0
    assert version_of("train:stable") == 2
    assert version_of("train") == 2
    assert store.jobs.resolve("train:v1").aliases == ("candidate", "exp-1")
    assert store.jobs.resolve("train:v2").aliases == ("latest", "stable")

    described = json.loads(cli("job", "describe", "train:candidate", "--json").out)
    assert described["ref"] == "train:v1"
    assert [v["version"] for v in described["versions"]] == [2, 1, 0]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope", "no job named 'nope' (known jobs: train)"),
        ("train:v7", "'train:v7': train has versions v0..v0"),
        ("train:missing", "'train:missing': train has aliases latest"),
    ],
)
def test_resolving_an_unknown_job_version_or_alias_is_bad_input(store, cli, tmp_path, ref, message):
    src = write_tree(tmp_path / "src", {"main.py": "print(0)\n"})
    assert cli("job", "create", "code", "train", str(src)).code == 0
    with pytest.raises(NotFound):
        store.jobs.resolve(ref)
    result = cli("job", "describe", ref)
    assert result.code == 2
    assert message in result.err


@pytest.mark.parametrize("alias", ["latest", "v3", "bad alias"])
def test_reserved_or_malformed_alias_is_refused_before_anything_is_stored(
    store, cli, tmp_path, alias
):
    src = write_tree(tmp_path / "src", {"main.py": "print(0)\n"})
    result = cli("job", "create", "code", "train", str(src), "--alias", alias)
    assert result.code == 2
    assert "--alias" in result.err
    assert job_count(store) == 0
    assert not (store.files_dir / "artifacts").exists()


def test_code_snapshot_leaves_out_vcs_caches_and_venvs_and_keeps_requirements(store, cli, tmp_path):
    src = write_tree(
        tmp_path / "src",
        {
            "main.py": "print('hi')\n",
            "requirements.txt": "numpy\n",
            "pkg/model.py": "X = 1\n",
            "pkg/model.pyc": "stale",
            "pkg/__pycache__/model.cpython-311.pyc": "cached",
            "__pycache__/main.cpython-311.pyc": "cached",
            ".git/HEAD": "ref: refs/heads/main\n",
            ".venv/bin/python": "#!",
            "data/.venv": "a file named .venv is excluded too",
            "data/keep.csv": "a,b\n",
        },
    )
    result = cli("job", "create", "code", "train", str(src), "--json")
    assert result.code == 0, result.err
    source = json.loads(result.out)["source"]

    members = archive_members(store, source["artifact"])
    assert members == [
        "data",
        "data/keep.csv",
        "main.py",
        "pkg",
        "pkg/model.py",
        "requirements.txt",
    ]
    assert source["requirements"] is True
    assert source["files"] == 4  # files only, not the folders

    with tarfile.open(store.artifacts.path_for(source["artifact"]), "r:gz") as tar:
        assert tar.extractfile("requirements.txt").read() == b"numpy\n"
        for info in tar.getmembers():
            assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (0, 0, 0, "", "")


def test_code_snapshot_without_requirements_says_so(store, tmp_path):
    src = write_tree(tmp_path / "src", {"main.py": "print('hi')\n"})
    source = snapshot_directory(src, store.artifacts)
    assert source["requirements"] is False
    assert archive_members(store, source["artifact"]) == ["main.py"]


def test_snapshot_artifact_is_named_by_the_sha256_of_its_bytes(store, tmp_path):
    src = write_tree(tmp_path / "src", {"main.py": "print('hi')\n", "lib/util.py": "pass\n"})
    source = snapshot_directory(src, store.artifacts)
    path = store.artifacts.path_for(source["artifact"])
    assert path == store.files_dir / "artifacts" / "sha256" / source["artifact"][:2] / path.name
    assert path.name == source["artifact"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == source["artifact"]
    assert not list(path.parent.glob(".incoming-*"))


def test_snapshot_of_the_same_directory_is_deterministic_even_after_touching_mtimes(
    store, tmp_path
):
    src = write_tree(tmp_path / "src", {"main.py": "print('hi')\n", "lib/util.py": "pass\n"})
    first = snapshot_directory(src, store.artifacts)
    for path in [src, *src.rglob("*")]:
        os.utime(path, (1_000_000_000, 1_000_000_000))
    second = snapshot_directory(src, store.artifacts)
    assert second["artifact"] == first["artifact"]

    # The same files under another directory name are the same snapshot too.
    copy = write_tree(tmp_path / "elsewhere", {"main.py": "print('hi')\n", "lib/util.py": "pass\n"})
    assert snapshot_directory(copy, store.artifacts)["artifact"] == first["artifact"]
    assert len(list((store.files_dir / "artifacts" / "sha256").rglob("*"))) == 2  # 1 dir, 1 file


@pytest.mark.parametrize("target", ["missing", "file.txt"])
def test_code_job_from_a_path_that_is_not_a_directory_is_bad_input(store, cli, tmp_path, target):
    (tmp_path / "file.txt").write_text("x")
    result = cli("job", "create", "code", "train", str(tmp_path / target))
    assert result.code == 2
    assert result.err.startswith("launchbay: error: PATH: ")
    assert job_count(store) == 0


# -- git jobs -------------------------------------------------------------------------------

GIT_MAIN = """\
import os
print("root-main:", open("version.txt").read().strip())
"""
GIT_SUB_MAIN = """\
import os
print("sub-main:", open(os.path.join("..", "version.txt")).read().strip())
print("cwd:", os.getcwd())
"""


def commit(repo: Path, version: str) -> str:
    (repo / "version.txt").write_text(version + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"version {version}")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def origin(tmp_path) -> Path:
    """A repository with one commit on `main`: main.py, sub/main.py and version.txt."""
    repo = tmp_path / "origin"
    write_tree(repo, {"main.py": GIT_MAIN, "sub/main.py": GIT_SUB_MAIN})
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "one")
    return repo


def test_git_refs_resolve_to_the_commit_they_name(store, origin):
    first = git(origin, "rev-parse", "HEAD")
    git(origin, "tag", "-a", "v1.0", "-m", "release 1.0")
    git(origin, "tag", "light")
    second = commit(origin, "two")
    git(origin, "branch", "old", first)
    url = origin.as_uri()

    cases = {
        None: second,  # the remote's HEAD
        "main": second,
        "old": first,
        "v1.0": first,  # annotated: the commit, not the tag object
        "light": first,
        first: first,  # a full sha that is no branch tip
        first[:8]: first,
        second[:10]: second,
    }
    for index, (ref, expected) in enumerate(cases.items()):
        version = create_job(store, "git", f"g{index}", url, ref=ref).version
        assert version.source == {"url": url, "commit": expected, "subdir": None}, ref
    tag_object = git(origin, "rev-parse", "v1.0")
    assert tag_object != first  # the annotated tag really is its own object


@pytest.mark.parametrize("ref", ["no-such-branch", "deadbeef", "0" * 40])
def test_git_ref_that_the_remote_lacks_is_bad_input(store, cli, origin, ref):
    result = cli("job", "create", "git", "g", origin.as_uri(), "--ref", ref)
    assert result.code == 2
    assert f"--ref: {ref!r} is not a branch, tag or commit of" in result.err
    assert job_count(store) == 0


def test_git_job_stays_pinned_when_the_branch_moves(store, cli, origin):
    url = origin.as_uri()
    first = git(origin, "rev-parse", "HEAD")
    assert cli("job", "create", "git", "g", url, "--ref", "main").code == 0

    second = commit(origin, "two")
    assert store.jobs.resolve("g").source["commit"] == first

    again = cli("job", "create", "git", "g", url, "--ref", "main", "--json")
    assert again.code == 0, again.err
    created = json.loads(again.out)
    assert (created["ref"], created["created"], created["source"]["commit"]) == (
        "g:v1",
        True,
        second,
    )
    assert store.jobs.resolve("g:v0").source["commit"] == first

    # Nothing moved since: the same pinned commit is the same content, no new version.
    unchanged = cli("job", "create", "git", "g", url, "--ref", "main")
    assert unchanged.code == 0
    assert "g: same content as g:v1; no new version added" in unchanged.out
    assert [v.version for v in store.jobs.versions("g")] == [1, 0]


def test_git_subdir_must_be_a_directory_of_the_pinned_commit(store, cli, origin):
    url = origin.as_uri()
    ok = cli("job", "create", "git", "g", url, "--subdir", "sub", "--json")
    assert ok.code == 0, ok.err
    assert json.loads(ok.out)["source"]["subdir"] == "sub"

    for subdir, message in [
        ("missing", "--subdir: 'missing' is not a directory at "),
        ("main.py", "--subdir: 'main.py' is not a directory at "),
        ("../outside", "--subdir: '../outside'; expected a relative path inside the repo"),
        ("/abs", "--subdir: '/abs'; expected a relative path inside the repo"),
    ]:
        result = cli("job", "create", "git", "other", url, "--subdir", subdir)
        assert result.code == 2, subdir
        assert message in result.err, result.err
    with pytest.raises(NotFound):
        store.jobs.resolve("other")


def test_git_url_that_is_not_a_url_or_unreachable_is_bad_input(store, cli, tmp_path):
    not_url = cli("job", "create", "git", "g", str(tmp_path))
    assert not_url.code == 2
    assert "is not a git URL" in not_url.err
    gone = cli("job", "create", "git", "g", (tmp_path / "nothing-here").as_uri())
    assert gone.code == 2
    assert "could not be reached" in gone.err
    assert job_count(store) == 0


def test_git_job_run_checks_out_its_pinned_commit(store, db_path, origin):
    url = origin.as_uri()
    make_queue(store)
    create_job(store, "git", "g", url, ref="main", entrypoint=PYTHON_ENTRYPOINT)
    commit(origin, "two")
    create_job(store, "git", "g", url, ref="main", entrypoint=PYTHON_ENTRYPOINT)
    commit(origin, "three")  # the branch moved on; neither version follows it

    old_item = launch(store, "g:v0")
    new_item = launch(store, "g:v1")
    run_agent(db_path, queues=["local"])

    old_run, new_run = run_of(store, old_item), run_of(store, new_item)
    assert (old_run.state, new_run.state) == (RunState.FINISHED, RunState.FINISHED)
    assert "root-main: one" in run_log(store, old_run)
    assert "root-main: two" in run_log(store, new_run)
    work = store.run_dir(old_run.id) / "work"
    assert git(work, "rev-parse", "HEAD") == store.jobs.resolve("g:v0").source["commit"]


def test_git_job_with_subdir_runs_from_that_subdir(store, db_path, origin):
    make_queue(store)
    create_job(store, "git", "g", origin.as_uri(), subdir="sub", entrypoint=PYTHON_ENTRYPOINT)
    item = launch(store, "g")
    run_agent(db_path, queues=["local"])

    run = run_of(store, item)
    log = run_log(store, run)
    assert run.state is RunState.FINISHED, log
    assert "sub-main: one" in log
    cwd = Path(log.split("cwd:", 1)[1].strip().splitlines()[0])
    assert cwd.resolve() == (store.run_dir(run.id) / "work" / "sub").resolve()


# -- image jobs and input schemas --------------------------------------------------------------

SCHEMA_YAML = """\
type: object
properties:
  epochs:
    type: integer
    default: 3
    minimum: 1
    description: Passes over the data
  optimizer:
    type: string
    enum: [adam, sgd]
    default: adam
"""

SCHEMA = {
    "type": "object",
    "properties": {
        "epochs": {
            "type": "integer",
            "default": 3,
            "minimum": 1,
            "description": "Passes over the data",
        },
        "optimizer": {"type": "string", "enum": ["adam", "sgd"], "default": "adam"},
    },
}


def test_image_job_is_described_and_listed_with_type_versions_aliases_and_schema(
    store, cli, tmp_path
):
    schema = tmp_path / "schema.yaml"
    schema.write_text(SCHEMA_YAML)
    made = cli(
        "job", "create", "image", "img", "python:3.11", "--schema", str(schema), "-a", "prod",
        "-d", "An image job",
    )  # fmt: skip
    assert made.code == 0, made.err
    assert made.out.startswith("created img:v0 (image, digest ")
    newer = cli("job", "create", "image", "img", "python:3.12", "--schema", str(schema))
    assert newer.code == 0

    text = cli("job", "describe", "img:prod")
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert "job:          img:v0" in lines
    assert "type:         image" in lines
    assert "aliases:      prod" in lines
    assert "description:  An image job" in lines
    assert "image:        python:3.11" in lines
    assert "entrypoint:   (the type's default)" in lines
    assert "  epochs: type=integer, default=3, minimum=1  — Passes over the data" in lines
    assert "  optimizer: type=string, enum=['adam', 'sgd'], default=adam" in lines
    assert any(line.startswith("  v1  ") and line.endswith("[latest]") for line in lines)
    assert any(line.startswith("  v0  ") and line.endswith("[prod]") for line in lines)

    described = json.loads(cli("job", "describe", "img", "--json").out)
    assert described["ref"] == "img:v1"
    assert described["type"] == "image"
    assert described["source"] == {"image": "python:3.12"}
    assert described["aliases"] == ["latest"]
    assert described["input_schema"] == SCHEMA
    assert [(v["version"], v["aliases"]) for v in described["versions"]] == [
        (1, ["latest"]),
        (0, ["prod"]),
    ]

    listed = json.loads(cli("job", "list", "--json").out)
    assert len(listed) == 1
    entry = listed[0]
    assert (entry["name"], entry["type"], entry["version"], entry["versions"]) == (
        "img",
        "image",
        1,
        2,
    )
    assert entry["aliases"] == ["latest"]
    assert entry["input_schema"]["properties"]["epochs"]["default"] == 3

    table = cli("job", "list").out.splitlines()
    assert table[0].split() == [
        "JOB", "LATEST", "TYPE", "VERSIONS", "ALIASES", "CREATED", "DESCRIPTION",
    ]  # fmt: skip
    row = table[1].split()
    assert row[:5] == ["img", "v1", "image", "2", "-"]
    assert table[1].endswith("An image job")


def test_image_job_refuses_a_malformed_image_and_local_queues_refuse_image_jobs(store, cli):
    bad = cli("job", "create", "image", "img", "python 3.11")
    assert bad.code == 2
    assert "IMAGE: 'python 3.11'; expected an image reference" in bad.err

    assert cli("job", "create", "image", "img", "python:3.11").code == 0
    make_queue(store)
    refused = cli("launch", "-j", "img", "-q", "local")
    assert refused.code == 2
    assert "img:v0 is an image job; a local-process queue runs code and git jobs only" in (
        refused.err
    )
    assert item_count(store) == 0


@pytest.mark.parametrize("suffix", ["yaml", "json"])
def test_input_schema_file_is_stored_and_shown(store, cli, tmp_path, suffix):
    schema = tmp_path / f"schema.{suffix}"
    schema.write_text(SCHEMA_YAML if suffix == "yaml" else json.dumps(SCHEMA))
    src = write_tree(tmp_path / "src", {"main.py": "print(0)\n"})
    made = cli("job", "create", "code", "train", str(src), "--schema", str(schema))
    assert made.code == 0, made.err

    assert store.jobs.resolve("train").input_schema == SCHEMA
    described = json.loads(cli("job", "describe", "train", "--json").out)
    assert described["input_schema"] == SCHEMA


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "object", "properties": {"lr": {"type": "number", "minimumm": 0}}},
            "--schema.properties.lr.minimumm: unknown keyword; did you mean minimum?",
        ),
        (
            {"type": "object", "properties": {"lr": {"type": "float"}}},
            "--schema.properties.lr.type: expected one of string, integer, number, boolean, array,",
        ),
        (
            {"type": "object", "properties": {"epochs": {"type": "integer", "default": "3"}}},
            "--schema.properties.epochs.default: expected an integer, got '3'",
        ),
        ({"type": "array"}, "--schema: expected an object schema"),
    ],
)
def test_bad_input_schema_is_refused_with_exit_2(store, cli, tmp_path, schema, message):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    src = write_tree(tmp_path / "src", {"main.py": "print(0)\n"})
    result = cli("job", "create", "code", "train", str(src), "--schema", str(path))
    assert result.code == 2
    assert message in result.err
    assert job_count(store) == 0


def test_missing_or_malformed_schema_file_is_refused_with_exit_2(store, cli, tmp_path):
    src = write_tree(tmp_path / "src", {"main.py": "print(0)\n"})
    missing = cli("job", "create", "code", "t", str(src), "--schema", str(tmp_path / "no.yaml"))
    assert missing.code == 2
    assert "does not exist" in missing.err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    malformed = cli("job", "create", "code", "t", str(src), "--schema", str(broken))
    assert malformed.code == 2
    assert "malformed JSON in broken.json" in malformed.err
    assert job_count(store) == 0


def test_a_relative_schema_path_is_looked_for_in_the_code_directory_first(
    store, cli, tmp_path, monkeypatch
):
    schema = '{"type": "object", "properties": {"lr": {"type": "number", "default": 0.1}}}'
    src = write_tree(tmp_path / "src", {"main.py": "print(0)\n", "schema.json": schema})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the app's working directory: not where the code is
    made = cli("job", "create", "code", "t", str(src), "--schema", "schema.json")
    assert made.code == 0, made.err
    assert store.jobs.resolve("t").input_schema["properties"]["lr"]["default"] == 0.1
    missing = cli("job", "create", "code", "u", str(src), "--schema", "nope.json")
    assert missing.code == 2
    assert "neither in the code directory" in missing.err and job_count(store) == 1


# -- what a run receives: macros, template variables, env, config file, secrets ----------------

ENV_SCRIPT = """\
import json, os, sys
names = ["Q_RUN", "Q_JOB", "Q_VERSION", "Q_QUEUE", "Q_FROM_ENV", "Q_EPOCHS", "Q_EPOCHS_TEXT",
         "Q_LITERAL", "HF_TOKEN"]
print("LB " + json.dumps({k: v for k, v in os.environ.items() if k.startswith("LAUNCHBAY_")}))
print("Q " + json.dumps({k: os.environ.get(k) for k in names}))
with open(os.environ["LAUNCHBAY_CONFIG_FILE"]) as f:
    print("FILE " + json.dumps(json.load(f)))
print("ARGS " + json.dumps(sys.argv[1:]))
"""

RUN_SCHEMA = {
    "type": "object",
    "properties": {
        "epochs": {"type": "integer", "default": 1},
        "lr": {"type": "number", "default": 0.01},
        "optimizer": {"type": "string", "enum": ["adam", "sgd"], "default": "adam"},
        "tag": {"type": "string", "default": "none"},
    },
}

QUEUE_CONFIG = {
    "resource_args": {
        "env": {
            "Q_RUN": "${run_id}",
            "Q_JOB": "${job_name}",
            "Q_VERSION": "${job_version}",
            "Q_QUEUE": "${queue_name}",
            "Q_FROM_ENV": "${env:SOME_VAR}",
            "Q_EPOCHS": "{{epochs}}",
            "Q_EPOCHS_TEXT": "epochs={{epochs}}",
            "Q_LITERAL": "$${run_id}",
        }
    },
    "template_variables": {"epochs": {"type": "integer", "default": 2, "minimum": 1}},
}

SECRET = "hf_live_s3cr3t_value"

LAUNCH_SPEC = {
    "overrides": {
        "run_config": {"epochs": 7, "tag": "${job_name}-${run_id}"},
        "args": ["--run", "${run_id}", "--queue=${queue_name}"],
    },
    "resource_args": {"env": {"HF_TOKEN": SECRET}},
}


@pytest.fixture
def macro_job(store, tmp_path, monkeypatch):
    """Job `mac` (with RUN_SCHEMA) printing what it receives, and queue `gpu` (QUEUE_CONFIG)."""
    monkeypatch.setenv("SOME_VAR", "from-shell")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(RUN_SCHEMA))
    make_code_job(store, tmp_path, "mac", ENV_SCRIPT, schema_path=str(schema))
    make_queue(store, "gpu", QUEUE_CONFIG)


def tagged_json(log: str, tag: str):
    lines = [line for line in log.splitlines() if line.startswith(tag + " ")]
    assert len(lines) == 1, log
    return json.loads(lines[0][len(tag) + 1 :])


def test_template_variable_alone_keeps_its_type_and_inside_text_becomes_text():
    filled = fill_placeholders(
        {"n": "{{epochs}}", "padded": " {{ epochs }} ", "text": "e={{epochs}}", "list": ["{{x}}"]},
        {"epochs": 5, "x": 1.5},
    )
    assert filled == {"n": 5, "padded": 5, "text": "e=5", "list": [1.5]}
    assert type(filled["n"]) is int


def test_run_receives_macros_variables_env_and_its_config(store, db_path, macro_job):
    item_id = launch(store, "mac", "gpu", spec=LAUNCH_SPEC, set_vars=["epochs=5"])
    item = store.items.get(item_id)
    assert item.launch["template_variables"] == {"epochs": 5}
    assert type(item.launch["template_variables"]["epochs"]) is int

    run_agent(db_path, queues=["gpu"], environ={**os.environ, "SOME_VAR": "from-agent"})

    run = run_of(store, item_id)
    log = run_log(store, run)
    assert run.state is RunState.FINISHED, log
    expected_config = {"epochs": 7, "lr": 0.01, "optimizer": "adam", "tag": f"mac-{run.id}"}
    config_file = store.run_dir(run.id) / "config.json"

    received = tagged_json(log, "LB")
    received.pop("LAUNCHBAY_DB", None)  # the agent's own environment, inherited
    assert received == {
        "LAUNCHBAY_RUN_ID": run.id,
        "LAUNCHBAY_JOB": "mac:v0",
        "LAUNCHBAY_QUEUE": "gpu",
        "LAUNCHBAY_ITEM_ID": str(item_id),
        "LAUNCHBAY_CONFIG": json.dumps(expected_config, sort_keys=True),
        "LAUNCHBAY_CONFIG_FILE": str(config_file),
        # Issue 14: where the run writes its metrics, in its folder.
        "LAUNCHBAY_METRICS_FILE": str(store.run_dir(run.id) / "metrics" / "metrics.jsonl"),
    }
    assert tagged_json(log, "Q") == {
        "Q_RUN": run.id,
        "Q_JOB": "mac",
        "Q_VERSION": "v0",
        "Q_QUEUE": "gpu",
        "Q_FROM_ENV": "from-agent",  # ${env:…} reads the agent's environment
        "Q_EPOCHS": "5",
        "Q_EPOCHS_TEXT": "epochs=5",
        "Q_LITERAL": "${run_id}",  # $${…} escapes a macro
        "HF_TOKEN": SECRET,  # hidden from display, not from the job
    }
    assert tagged_json(log, "FILE") == expected_config
    assert json.loads(config_file.read_text()) == expected_config
    assert config_file.stat().st_mode & 0o777 == 0o600
    assert tagged_json(log, "ARGS") == ["--run", run.id, "--queue=gpu"]

    spec = run.spec
    assert spec["run_id"] == run.id
    assert spec["args"] == ["--run", run.id, "--queue=gpu"]
    assert spec["run_config"] == expected_config
    assert spec["resource_args"]["env"]["Q_RUN"] == run.id
    assert spec["resource_args"]["env"]["Q_FROM_ENV"] == "from-agent"
    assert spec["resource_args"]["env"]["Q_EPOCHS"] == "5"
    assert spec["env"]["LAUNCHBAY_CONFIG"] == json.dumps(expected_config, sort_keys=True)
    text = json.dumps(spec)
    for unsubstituted in ("${job_name}", "${queue_name}", "${env:", "{{"):
        assert unsubstituted not in text
    # The queue item keeps the launch as given: macros are filled only at claim time.
    assert item.launch["args"] == ["--run", "${run_id}", "--queue=${queue_name}"]


def test_dry_run_prints_the_rendered_spec_hides_secrets_and_enqueues_nothing(store, cli, macro_job):
    before = item_count(store)
    result = cli(
        "launch", "-j", "mac", "-q", "gpu", "-c", json.dumps(LAUNCH_SPEC), "-v", "epochs=5",
        "--dry-run",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert item_count(store) == before
    assert "dry run: nothing was enqueued" in result.err

    spec = json.loads(result.out)
    assert SECRET not in result.out
    assert spec["run_id"] == "dryrun00"
    assert spec["item_id"] is None
    assert spec["priority"] == "medium"
    assert spec["job"]["ref"] == "mac:v0"
    assert spec["args"] == ["--run", "dryrun00", "--queue=gpu"]
    assert spec["run_config"] == {
        "epochs": 7,
        "lr": 0.01,
        "optimizer": "adam",
        "tag": "mac-dryrun00",
    }
    env = spec["resource_args"]["env"]
    assert env["HF_TOKEN"] == "***"
    assert env["Q_FROM_ENV"] == "from-shell"  # the dry run stands in for the agent
    assert (env["Q_EPOCHS"], env["Q_EPOCHS_TEXT"]) == ("5", "epochs=5")
    assert spec["env"]["LAUNCHBAY_CONFIG"] == json.dumps(spec["run_config"], sort_keys=True)


def test_dry_run_with_an_unset_env_macro_is_bad_input(store, cli, macro_job, monkeypatch):
    monkeypatch.delenv("SOME_VAR")
    result = cli("launch", "-j", "mac", "-q", "gpu", "--dry-run")
    assert result.code == 2
    assert "${env:SOME_VAR}: SOME_VAR is not set" in result.err
    assert item_count(store) == 0


def test_runs_describe_hides_secrets_the_job_really_received(store, cli, db_path, macro_job):
    enqueued = cli("launch", "-j", "mac", "-q", "gpu", "-c", json.dumps(LAUNCH_SPEC), "--json")
    assert enqueued.code == 0, enqueued.err
    assert SECRET not in enqueued.out
    item = json.loads(enqueued.out)
    assert item["launch"]["resource_args"]["env"]["HF_TOKEN"] == "***"
    item_id = item["id"]
    run_agent(db_path, queues=["gpu"])
    run = run_of(store, item_id)
    assert f'"HF_TOKEN": "{SECRET}"' in run_log(store, run)
    assert run.spec["resource_args"]["env"]["HF_TOKEN"] == SECRET  # stored as given

    text = cli("runs", "describe", run.id)
    assert text.code == 0, text.err
    assert SECRET not in text.out
    assert '"HF_TOKEN": "***"' in text.out

    as_json = cli("runs", "describe", run.id, "--json")
    assert as_json.code == 0, as_json.err
    assert SECRET not in as_json.out
    described = json.loads(as_json.out)
    assert described["spec"]["resource_args"]["env"]["HF_TOKEN"] == "***"
    assert described["spec"]["resource_args"]["env"]["Q_RUN"] == run.id


def test_unknown_macro_is_refused_at_launch(store, cli, macro_job):
    spec = {"overrides": {"args": ["${run_idd}"]}}
    result = cli("launch", "-j", "mac", "-q", "gpu", "-c", json.dumps(spec))
    assert result.code == 2
    assert "args[0]: unknown macro ${run_idd}" in result.err
    assert item_count(store) == 0


def test_override_outside_the_schema_or_a_bad_variable_is_refused_at_launch(store, cli, macro_job):
    spec = {"overrides": {"run_config": {"epoch": 3}}}
    typo = cli("launch", "-j", "mac", "-q", "gpu", "-c", json.dumps(spec))
    assert typo.code == 2
    assert "run_config.epoch: is not in the job's input schema" in typo.err
    low = cli("launch", "-j", "mac", "-q", "gpu", "-v", "epochs=0")
    assert low.code == 2
    assert "--set-var epochs: expected an integer ≥ 1, got 0" in low.err
    assert item_count(store) == 0

"""Helpers shared by the tests: making jobs, queues and launches; running the CLI and agents.

(Not in conftest.py: tests/tui has a conftest of its own, and `import conftest` would be
ambiguous.)"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from store import Store

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_launchbay(*args: str, db: Path, timeout: float = 120, **kwargs) -> Result:
    """Run `launchbay ARGS…` as a real subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        **kwargs,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def write_code_job(folder: Path, script: str, requirements: str | None = None) -> Path:
    """A directory with main.py holding `script` (dedented)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(textwrap.dedent(script))
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements)
    return folder


PYTHON_ENTRYPOINT = f"{sys.executable} main.py"


def make_code_job(store: Store, tmp_path: Path, name: str, script: str, **kwargs):
    """Create a code job running `script` with this interpreter; returns the JobVersion."""
    from runners.catalog.jobs import create_job

    folder = write_code_job(tmp_path / f"src-{name}", script)
    return create_job(
        store, "code", name, str(folder), entrypoint=PYTHON_ENTRYPOINT, **kwargs
    ).version


def make_queue(store: Store, name: str = "local", config: dict | None = None, **kwargs):
    from runners.catalog.queues import check_queue_config

    return store.queues.create(
        name, "local-process", check_queue_config("local-process", config or {}), **kwargs
    )


def launch(store: Store, job: str, queue: str = "local", **kwargs) -> int:
    from runners.launch.request import LaunchRequest, enqueue, prepare_launch

    return enqueue(store, prepare_launch(store, LaunchRequest(job=job, queue=queue, **kwargs)))


def run_agent(db_path: Path, **kwargs):
    """Run an agent until its queues are empty; returns it."""
    from runners.agent.loop import Agent

    agent = Agent(db_path, until_empty=True, **kwargs)
    agent.run()
    return agent


def agent_process(db_path: Path, queue: str, *args: str) -> subprocess.Popen:
    """A headless agent as its own process (SIGKILL it to play a crash)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--db", str(db_path), "agent", "-q", queue, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@contextlib.contextmanager
def agent_killed_after(db_path: Path, queue: str):
    """An agent process that is SIGKILLed (a crash) when the block ends, however it ends."""
    agent = agent_process(db_path, queue)
    try:
        yield agent
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=30)


def forget_handle(store, run_id: str) -> None:
    """As if the agent died after submitting the run and before recording where it is: the
    next agent must find it by the runner's own labels or tags."""
    store.conn.execute("UPDATE runs SET handle = NULL WHERE id = ?", (run_id,))
    assert store.runs.get(run_id).handle is None


def run_agent_until_empty(db_path: Path, queue: str, timeout: float = 120) -> str:
    """A headless agent run until its queue has nothing left; returns what it printed."""
    output, _ = agent_process(db_path, queue, "--until-empty").communicate(timeout=timeout)
    return output


def clean_env() -> dict:
    env = dict(os.environ)
    env.pop("LAUNCHBAY_DB", None)
    return env


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity and no user or system config."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    proc = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return proc.stdout.strip()


def add_fake_target(monkeypatch, root: Path, name: str = "fake-cloud") -> str:
    """A target package that exists only in this test (`root` on sys.path), registered as
    resource type `name` by one registry line, as a new target would be: its settings module
    declares a `target:` block with one key, `zone`. Returns the package's name."""
    from runners import registry

    package = f"lb_target_{root.name}".replace("-", "_")
    folder = root / package
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text('"""A target that exists only in a test."""\n')
    (folder / "settings.py").write_text(
        "from pydantic import BaseModel\n\n\n"
        "class FakeTarget(BaseModel):\n"
        "    zone: str | None = None\n"
        '    """The fake cloud\'s zone, e.g. moon-1."""\n\n\n'
        'CONFIG_MODELS = {"target": "FakeTarget"}\n'
    )
    monkeypatch.syspath_prepend(str(root))
    entry = registry.ResourceType(
        name=name, module=f"{package}.runner", class_name="FakeRunner", description="a test"
    )
    monkeypatch.setattr(registry, "RESOURCE_TYPES", (*registry.RESOURCE_TYPES, entry))
    return package


def modules_loaded_by_cli(commands: list[list[str]], prefixes: tuple[str, ...]) -> list[str]:
    """Run each `launchbay` command in one fresh interpreter (from the repo, output dropped);
    returns the modules it loaded whose names start with one of `prefixes`."""
    script = textwrap.dedent(
        f"""
        import contextlib, io, json, sys
        from tui.cli import main
        for args in {commands!r}:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
                main(args)
        print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])

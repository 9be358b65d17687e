"""Running `launchbay` as a real subprocess, from this checkout."""

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from kit.stream_lines import StreamLines

REPO = Path(__file__).resolve().parents[2]


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


class CliProcess:
    """`launchbay ARGS…` as a process whose stderr is read as it comes, so a test can wait for
    a line it printed (evidence, not a sleep) and then act (signal it, start an agent)."""

    def __init__(self, *args: str, db: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "--db", str(db), *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr = StreamLines(self.process.stderr, "stderr")

    def wait_for_err_line(self, text: str, timeout: float = 60) -> str:
        """The first stderr line holding `text`; fails if the process ends or time passes."""
        return self.stderr.wait_for(text, timeout)

    def finish(self, timeout: float = 120) -> Result:
        """Wait for it to end; its exit code, stdout and stderr."""
        out = self.process.stdout.read()
        self.process.wait(timeout=timeout)
        return Result(self.process.returncode, out, self.stderr.join())

    def __enter__(self) -> "CliProcess":
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self.stderr.join()


def clean_env() -> dict:
    env = dict(os.environ)
    env.pop("LAUNCHBAY_DB", None)
    return env


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


def bench_results(script: str) -> dict[str, dict]:
    """Run `bench/SCRIPT --quick`; its JSON lines by metric name."""
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--quick"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line["metric"]: line for line in map(json.loads, out.splitlines())}

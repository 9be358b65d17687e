"""Running `launchbay` as a real subprocess, from this checkout."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


def clean_env() -> dict:
    env = dict(os.environ)
    env.pop("LAUNCHBAY_DB", None)
    return env

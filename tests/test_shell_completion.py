"""Shell completion offers the store's own names: jobs, queues, runs (click's protocol, as a
shell calls it: environment variables in, one `type,value` line per candidate out)."""

import os
import subprocess
import sys

from kit import claimed_run
from kit.cli import REPO


def _complete(db_path, words: str) -> list[str]:
    env = dict(os.environ, LAUNCHBAY_DB=str(db_path), _LAUNCHBAY_COMPLETE="bash_complete")
    env["COMP_WORDS"] = words
    env["COMP_CWORD"] = str(len(words.split()) - (0 if words.endswith(" ") else 1))
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli"], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]


def test_names_complete_from_the_store(store, db_path, tmp_path):
    claimed_run(store, tmp_path, "kj3x9mf2")  # makes job `train` and queue `local` too
    claimed_run(store, tmp_path, "kj7a2b4c")
    assert _complete(db_path, "launchbay launch -j tr") == ["train"]
    assert _complete(db_path, "launchbay launch -j train -q lo") == ["local"]
    assert _complete(db_path, "launchbay queue describe ") == ["local"]
    assert sorted(_complete(db_path, "launchbay runs logs kj")) == ["kj3x9mf2", "kj7a2b4c"]
    assert _complete(db_path, "launchbay runs describe kj3") == ["kj3x9mf2"]
    assert _complete(db_path, "launchbay agent -q nothing-like-it") == []


def test_an_unusable_store_completes_nothing(tmp_path):
    missing_dir = tmp_path / "no" / "such" / "dir" / "lb.db"
    assert _complete(missing_dir, "launchbay runs logs ") == []

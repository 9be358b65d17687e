#!/usr/bin/env bash
# The test command (README, and what .ci/run calls): installs everything the tests need into
# .venv, starts the services they use, then runs ruff and the whole suite. Nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    "$PYTHON" -m venv .venv
fi
echo "== installing launchbay and its test dependencies"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench,all]'

# git is used for real by the git-job tests (file:// repositories).
if ! command -v git >/dev/null; then
    echo "== installing git"
    apt-get update -qq && apt-get install -y -qq git >/dev/null
fi

# A real Docker engine, base images made locally (nothing can be pulled here) and a registry on
# 127.0.0.1:5000, for the docker runner's tests.
bash scripts/services/docker.sh

# A real Ray head in a network namespace of its own (lbray), for the ray runner's tests: started
# unless one answers, and stopped when this run ends if this run started it. And a real
# single-node Slurm cluster (munged, slurmctld, slurmd) with an sshd on 127.0.0.1, for the slurm
# runner's tests. One EXIT trap stops what each started (a second `trap` would replace the first).
trap 'bash scripts/services/ray.sh stop --owner "$$"; bash scripts/services/slurm.sh stop' EXIT
bash scripts/services/ray.sh start --owner "$$"
bash scripts/services/slurm.sh
export SLURM_CONF="${LAUNCHBAY_SLURM_STATE:-/var/lib/launchbay-test/slurm}/slurm.conf"

echo "== ruff"
.venv/bin/ruff check .

echo "== pytest"
# -p no:cacheprovider: CI's clone stays clean. Exit code 5 (no tests ran) is a failure too.
# Not exec'd: the EXIT trap above stops the Ray head and the Slurm services afterwards
# (set -e keeps pytest's exit code as the script's).
.venv/bin/python -m pytest -p no:cacheprovider -ra "$@"

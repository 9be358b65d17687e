"""What a ray run submits: the job's submission id, its entry point, its runtime_env and the
resources its entry point reserves, and the working directory Ray uploads for it.

The entry point is a shell command (Ray runs it with `sh -c`): the job's argv, each word quoted
by shlex.join, after a fixed prefix that reads launchbay's environment from a file of the
working directory. launchbay's values (the run id, the run config as JSON…) go there, not into
runtime_env's env_vars, because Ray expands `$NAME` in env_vars on the cluster: a run config
holding "$HOME/data" would reach the job changed. Shell-quoted in a file, every value arrives as
it was sent.
"""

import json
import math
import shlex
from pathlib import Path

from runners.catalog.workspace import materialize
from runners.protocol import RunnerError, SubmitContext
from runners.system.files import write_private
from runners.targets.ray.settings import RayArgs
from store import Stage

SUBMISSION_PREFIX = "launchbay-"
LAUNCHBAY_DIR = ".launchbay"  # in the job's working directory: its config and environment
CONFIG_FILE = f"{LAUNCHBAY_DIR}/config.json"
ENV_FILE = f"{LAUNCHBAY_DIR}/env.sh"
# Constant text: the job's words follow it, quoted; `exec` makes the job the process Ray stops.
ENTRYPOINT_PREFIX = f". ./{ENV_FILE} && exec "
WORKING_DIR_PREVIEW = "<the job's code, uploaded by the agent>"


def submission_id(run_id: str) -> str:
    """The Ray job's submission id: the run's id, so a restarted agent finds the job again."""
    return f"{SUBMISSION_PREFIX}{run_id}"


def argv(spec: dict) -> list[str]:
    return [*(spec.get("entry_point") or []), *(spec.get("args") or [])]


def entrypoint(spec: dict) -> str:
    """The shell command Ray runs: the env file read, then the job's argv, quoted word by word
    (no word of it is ever shell syntax)."""
    words = argv(spec)
    if not words:
        raise RunnerError(Stage.RUN, f"{spec['job']['ref']} has no entrypoint; give one with -E")
    return ENTRYPOINT_PREFIX + shlex.join(words)


def runtime_env(args: RayArgs, working_dir: str) -> dict:
    """runtime_env: the job's code as working_dir, the queue's pip and py_modules, the env vars,
    and the stop grace (RAY_JOB_STOP_WAIT_TIME_S, read by Ray's job supervisor on stop)."""
    env = {**args.env, "RAY_JOB_STOP_WAIT_TIME_S": str(math.ceil(args.stop_grace_seconds))}
    runtime = {"working_dir": working_dir, "env_vars": env}
    if args.pip:
        runtime["pip"] = list(args.pip)
    if args.py_modules:
        runtime["py_modules"] = list(args.py_modules)
    return runtime


def submission(spec: dict, working_dir: str) -> dict:
    """The keyword arguments of JobSubmissionClient.submit_job for a run's spec."""
    args = RayArgs.model_validate(spec.get("resource_args") or {})
    request = {
        "submission_id": submission_id(spec["run_id"]),
        "entrypoint": entrypoint(spec),
        "runtime_env": runtime_env(args, working_dir),
        "metadata": {"launchbay_run_id": spec["run_id"], "launchbay_queue": spec["queue"]},
    }
    for name in (
        "entrypoint_num_cpus",
        "entrypoint_num_gpus",
        "entrypoint_memory",
        "entrypoint_resources",
    ):
        value = getattr(args, name)
        if value is not None:
            request[name] = value
    return request


def env_script(env: dict[str, str]) -> str:
    """launchbay's environment as `export NAME='value'` lines, each value shell-quoted; the
    config file's path is made absolute where the job runs."""
    lines = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    lines.append(f'export LAUNCHBAY_CONFIG_FILE="$PWD/{CONFIG_FILE}"')
    return "\n".join(lines) + "\n"


def working_dir(ctx: SubmitContext) -> Path:
    """The job's code for this run, with launchbay's config and environment beside it, in the
    run's folder: what Ray uploads as the job's working_dir."""
    folder = materialize(ctx.job, ctx.artifact_path, ctx.run_dir / "work")
    env = {k: v for k, v in ctx.spec["env"].items() if k != "LAUNCHBAY_CONFIG_FILE"}
    write_private(folder / CONFIG_FILE, json.dumps(ctx.spec["run_config"], indent=2))
    write_private(folder / ENV_FILE, env_script(env))
    return folder

"""The batch script of a slurm run: `#SBATCH` lines from its resource_args (an allow-list, see
settings.SlurmArgs), the launchbay environment exported, and the job's entry point and args as
an argv, every word quoted for the shell (shlex.quote): nothing a user wrote is ever read by
the shell as code.

The run's folder on the cluster holds `work/` (the job's code; its working directory),
`config.json` (the run config, LAUNCHBAY_CONFIG_FILE), `job.sbatch` (this script), `output.log`
(its stdout and stderr), `started` (claimed by the script before the job starts) and
`exit_code`, written by the script when the job ends: what the run
ended with once Slurm has forgotten the job (MinJobAge), since there is no accounting here.
"""

import shlex
from pathlib import PurePosixPath

from runners.targets.slurm.settings import NOT_SBATCH, SlurmArgs

JOB_NAME_PREFIX = "launchbay-"
COMMENT_PREFIX = "launchbay-run-id="
SCRIPT = "job.sbatch"
OUTPUT = "output.log"
EXIT_FILE = "exit_code"
CONFIG = "config.json"
WORK = "work"
STARTED = "started"  # a folder: made by whoever comes first, the job or an abandoning agent
ABANDONED = "abandoned"  # in it, when an agent came first

# The job runs as the script's child, not exec'd: the script then records its exit status.
# `trap : TERM` keeps the script alive through the SIGTERM of a cancel (sent to every process
# of the job), so the status of a job that exits on SIGTERM is still written.
_RUN_AND_RECORD = """\
trap : TERM INT HUP
{argv}
status=$?
echo "$status" > {exit_file}
exit "$status"
"""


def job_name(run_id: str) -> str:
    return f"{JOB_NAME_PREFIX}{run_id}"


def batch_script(spec: dict, args: SlurmArgs, run_dir: str) -> str:
    """The whole script, exactly as sbatch gets it."""
    folder = PurePosixPath(run_dir)
    options = sbatch_options(args, spec["run_id"], run_dir)
    env = {**args.env, **spec["env"], "LAUNCHBAY_CONFIG_FILE": str(folder / CONFIG)}
    argv = [*(spec.get("entry_point") or []), *(spec.get("args") or [])]
    lines = ["#!/bin/sh"]
    lines += [f"#SBATCH {shlex.quote(option)}" for option in options]
    # The start claim (mkdir is atomic, on a shared filesystem too): an agent that found no
    # job for the run took it first (SlurmRunner.abandon), so this late copy never runs it.
    lines.append(f"mkdir {shlex.quote(str(folder / STARTED))} 2>/dev/null || exit 125")
    lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    lines.append("export PYTHONUNBUFFERED=1")
    body = _RUN_AND_RECORD.format(
        argv=shlex.join(argv), exit_file=shlex.quote(str(folder / EXIT_FILE))
    )
    return "\n".join(lines) + "\n" + body


def sbatch_options(args: SlurmArgs, run_id: str, run_dir: str) -> list[str]:
    """The #SBATCH options: launchbay's own (name, comment, output, working directory, no
    requeue by Slurm: launchbay requeues a preempted run itself, up to the queue's
    max_resumes), then one per resource arg the queue and launch set."""
    folder = PurePosixPath(run_dir)
    options = [
        f"--job-name={job_name(run_id)}",
        f"--comment={COMMENT_PREFIX}{run_id}",
        f"--output={folder / OUTPUT}",
        f"--chdir={folder / WORK}",
        "--no-requeue",
    ]
    for name, value in args.model_dump(exclude_none=True).items():
        if name in NOT_SBATCH:
            continue
        option = name.replace("_", "-")
        if value is True:
            options.append(f"--{option}")
        elif value is not False:
            options.append(f"--{option}={value}")
    return options

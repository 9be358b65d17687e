"""What the Docker engine receives for a run: the container's settings (its command, its
environment, launchbay's labels, the host config of its limits) and its config file."""

import io
import json
import tarfile
import time
from pathlib import Path

from runners.metrics.discovery import metrics_file_on_host
from runners.targets.docker.settings import DockerArgs
from runners.targets.remote import put_command

CONFIG_DIR_IN_CONTAINER = "/launchbay"
METRICS_DIR_IN_CONTAINER = "/launchbay/metrics"  # the run's metrics folder, bind-mounted rw
LABEL_RUN_ID = "launchbay.run-id"
LABEL_QUEUE = "launchbay.queue"
LABEL_JOB = "launchbay.job"
LABEL_KEEP_FAILED = "launchbay.keep-failed"  # so that a restarted agent keeps it too


def container_settings(spec: dict, args: DockerArgs) -> dict:
    """create_container's keyword arguments for the run (its name and image aside), with
    `host_config` as create_host_config's keyword arguments (plain data: a dry run shows them
    without the SDK; submit turns them into the engine's HostConfig, see host_config)."""
    host_config = dict(
        network_mode=args.network,
        init=args.init,
        mem_limit=args.memory,
        memswap_limit=args.memory_swap,
        shm_size=args.shm_size,
        nano_cpus=int(args.cpus * 1e9) if args.cpus else None,
        pids_limit=args.pids_limit,
        ulimits=[_ulimit(name, value) for name, value in args.ulimits.items()] or None,
        device_requests=_device_requests(args.gpus),
        binds=args.volumes or None,
        privileged=args.privileged,
        cap_add=args.cap_add or None,
        devices=args.devices or None,
        ipc_mode=args.ipc,
        pid_mode=args.pid,
        runtime=args.runtime,
    )
    settings = {
        "environment": {**args.env, **spec["env"]},
        "labels": {
            **args.labels,
            LABEL_RUN_ID: spec["run_id"],
            LABEL_QUEUE: spec["queue"],
            LABEL_JOB: spec["job"]["ref"],
            **({LABEL_KEEP_FAILED: "1"} if args.keep_failed_containers else {}),
        },
        "working_dir": args.workdir,
        "user": args.user,
        "platform": args.platform,
        "host_config": host_config,
        "detach": True,
    }
    return put_command(settings, spec, command="entrypoint", args="command")


def host_config(client, settings: dict) -> dict:
    """`settings` with its host_config made the engine's HostConfig (for its API version)."""
    arguments = {key: value for key, value in settings["host_config"].items() if value is not None}
    return {**settings, "host_config": client.api.create_host_config(**arguments)}


def metrics_file_in_container(run_dir: Path) -> str:
    return f"{METRICS_DIR_IN_CONTAINER}/{metrics_file_on_host(run_dir).name}"


def mount_metrics_dir(settings: dict, run_dir: Path) -> None:
    """Bind the run's metrics folder into the container, writable by any user: the job may
    not run as us (`user:`, or an image's own USER). The run's folder (0700) keeps it private
    on this machine; the agent reads the file as the job writes it."""
    folder = metrics_file_on_host(run_dir).parent
    folder.mkdir(exist_ok=True)
    folder.chmod(0o777)  # chmod: mkdir's mode is cut by the umask
    settings["host_config"].setdefault("Binds", []).append(
        f"{folder}:{METRICS_DIR_IN_CONTAINER}:rw"
    )


def config_archive(run_config: dict) -> bytes:
    """A tar holding /launchbay/config.json, readable by the job's (maybe non-root) user."""
    data = json.dumps(run_config, indent=2).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo(CONFIG_DIR_IN_CONTAINER.lstrip("/"))
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
        tar.addfile(folder)
        member = tarfile.TarInfo(f"{CONFIG_DIR_IN_CONTAINER.lstrip('/')}/config.json")
        member.size, member.mode, member.mtime = len(data), 0o644, int(time.time())
        tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


# Ulimits and device requests as docker-py's HostConfig takes them in plain dicts.
def _ulimit(name: str, value) -> dict:
    if isinstance(value, int):
        return {"name": name, "soft": value, "hard": value}
    return {"name": name, "soft": value.soft, "hard": value.hard}


def _device_requests(gpus) -> list | None:
    if not gpus:  # none, 0 or an empty list: no GPU at all
        return None
    if gpus == "all":
        return [{"count": -1, "capabilities": [["gpu"]]}]
    if isinstance(gpus, int):
        return [{"count": gpus, "capabilities": [["gpu"]]}]
    return [{"device_ids": list(gpus), "capabilities": [["gpu"]]}]

"""The `docker` resource (alias `local-container`): each run is a container on a Docker engine.

The engine is the one `DOCKER_HOST` or the default socket points to. Code and git jobs are
built into an image first (runners.images.builder); image jobs run their image. The container
carries launchbay's labels, so a restarted agent finds it again; docker keeps its output, which a
log pump copies into the run's log as it is printed.
"""

import contextlib
import io
import json
import math
import os
import tarfile
import threading
import time
from pathlib import Path

from runners.images.builder import BuildLog, ensure_image
from runners.launch.templating import check_variables_are_enums
from runners.protocol import (
    Capability,
    Handle,
    Runner,
    RunnerError,
    RunStatus,
    SubmitContext,
    describe_exit,
)
from runners.system.files import write_private
from runners.targets.docker.limits import format_bytes
from runners.targets.docker.logs import LogPump, copy_output
from runners.targets.docker.settings import (
    SANDBOX_KEYS,
    DockerArgs,
    check_docker_args,
    check_docker_override,
)
from store import JobVersion, RunState, Stage

CONFIG_DIR_IN_CONTAINER = "/launchbay"
LABEL_RUN_ID = "launchbay.run-id"
LABEL_QUEUE = "launchbay.queue"
LABEL_JOB = "launchbay.job"
LABEL_KEEP_FAILED = "launchbay.keep-failed"  # so that a restarted agent keeps it too
ENGINE_RETRY_SECONDS = 5.0
ENGINE_TIMEOUT_SECONDS = 120  # one API call (a build or a push streams, and is not bound by it)
EXIT_RECORD = "container_exit.json"  # the ended status, kept after the container is removed


class DockerRunner(Runner):
    resource_type = "docker"
    capabilities = frozenset(
        {Capability.BUILDS_IMAGES, Capability.STARTS_RUNNING, Capability.SHARES_GPUS}
    )
    #: the log pump (the engine's log stream, copied into the run's log) gets 30 s, not 15
    log_drain_seconds = 30.0

    def __init__(self) -> None:
        self._client = None
        self._lock = threading.Lock()
        self._pumps: dict[str, LogPump] = {}

    # -- checks (no SDK needed) --------------------------------------------------------------

    def check_resource_args(self, resource_args: dict, target: dict | None = None) -> dict:
        return check_docker_args(resource_args).model_dump()

    def give_gpus(self, spec: dict, gpus: tuple) -> dict:
        """A count becomes a device request for exactly the devices the agent chose."""
        if not gpus:
            return spec
        args = {**spec["resource_args"], "gpus": [gpu.key for gpu in gpus]}
        return {**spec, "resource_args": args}

    def check_template_placement(self, resource_args: dict, variables: dict) -> None:
        for key in SANDBOX_KEYS:
            check_variables_are_enums(resource_args.get(key), variables, f"resource_args.{key}")

    def check_launch_override(
        self, queue_args: dict, launch_args: dict, queue_config: dict
    ) -> None:
        check_docker_override(queue_args, launch_args)

    def check_job(self, job: JobVersion) -> None:
        """Every kind of job runs in a container: images as they are, code and git built."""

    def config_file_path(self, run_dir: Path) -> str:
        return f"{CONFIG_DIR_IN_CONTAINER}/config.json"

    # -- the engine ------------------------------------------------------------------------------

    def engine(self, stage: Stage):
        """The docker client, connected on first use; an engine that doesn't answer is a
        failure at `stage` saying where we looked."""
        with self._lock:
            if self._client is not None:
                return self._client
            import docker
            from docker.errors import DockerException

            address = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
            try:
                client = docker.from_env(timeout=ENGINE_TIMEOUT_SECONDS, max_pool_size=64)
                client.ping()
            except DockerException as exc:
                raise RunnerError(
                    stage,
                    f"cannot reach the Docker engine at {address} ({_reason(exc)}); start"
                    " dockerd or point DOCKER_HOST at a running engine",
                ) from None
            if _engine_is_local():
                # Proxy variables mean nothing on a unix socket; reading them costs each call.
                client.api.trust_env = False
            self._client = client
            return client

    # -- submit ----------------------------------------------------------------------------------

    def submit(self, ctx: SubmitContext) -> Handle:
        from docker.errors import APIError, ImageNotFound

        args = DockerArgs.model_validate(ctx.spec["resource_args"] or {})
        client = self.engine(Stage.BUILD)
        build_log = BuildLog(ctx.log_path)
        image = ensure_image(
            client, ctx.spec, ctx.job, ctx.artifact_path, ctx.run_dir / "build", build_log
        )
        name = f"launchbay-{ctx.run_id}"
        settings = self._container_settings(client, ctx, args)
        config_mounted = _engine_is_local()
        if config_mounted:
            # A read-only bind of the file costs nothing; copying it in (put_archive) costs a
            # round trip of ~90 ms. Readable by any user: the job may not run as us; the run's
            # folder (0700) keeps it private on the host.
            config_file = ctx.run_dir / "config.json"
            write_private(config_file, json.dumps(ctx.spec["run_config"], indent=2), mode=0o644)
            settings["host_config"].setdefault("Binds", []).append(
                f"{config_file}:{CONFIG_DIR_IN_CONTAINER}/config.json:ro"
            )
        try:
            container = client.api.create_container(image, name=name, **settings)
        except ImageNotFound as exc:
            raise RunnerError(Stage.BUILD, f"image {image} is gone: {exc.explanation}") from None
        except APIError as exc:
            raise RunnerError(
                Stage.RUN, f"creating the container failed: {exc.explanation or exc}"
            ) from None
        container_id = container["Id"]
        try:
            if not config_mounted:  # a remote engine can't see our files
                client.api.put_archive(container_id, "/", _config_archive(ctx.spec["run_config"]))
            client.api.start(container_id)
        except APIError as exc:
            if not args.keep_failed_containers:  # else kept, like any failed run's, to inspect
                with contextlib.suppress(APIError):
                    client.api.remove_container(container_id, force=True)
            raise RunnerError(
                Stage.RUN, f"starting the container failed: {exc.explanation or exc}"
            ) from None
        handle = {
            "container": container_id,
            "name": name,
            "image": image,
            "log": str(ctx.log_path),
            "run_dir": str(ctx.run_dir),
            "memory": args.memory,
            "keep_failed": args.keep_failed_containers,
        }
        self._ensure_pump(handle)
        return handle

    def _container_settings(self, client, ctx: SubmitContext, args: DockerArgs) -> dict:
        from docker.types import DeviceRequest

        spec = ctx.spec
        host_config = client.api.create_host_config(
            network_mode=args.network,
            init=args.init,
            mem_limit=args.memory,
            memswap_limit=args.memory_swap,
            shm_size=args.shm_size,
            nano_cpus=int(args.cpus * 1e9) if args.cpus else None,
            pids_limit=args.pids_limit,
            ulimits=[_ulimit(name, value) for name, value in args.ulimits.items()] or None,
            device_requests=_device_requests(args.gpus, DeviceRequest),
            binds=args.volumes or None,
        )
        return {
            "entrypoint": spec["entry_point"],
            "command": spec["args"] or None,
            "environment": {**args.env, **spec["env"]},
            "labels": {
                **args.labels,
                LABEL_RUN_ID: ctx.run_id,
                LABEL_QUEUE: spec["queue"],
                LABEL_JOB: ctx.job.ref,
                **({LABEL_KEEP_FAILED: "1"} if args.keep_failed_containers else {}),
            },
            "working_dir": args.workdir,
            "user": args.user,
            "platform": args.platform,
            "host_config": host_config,
            "detach": True,
        }

    # -- following ------------------------------------------------------------------------------

    def status(self, handle: Handle) -> RunStatus:
        from docker.errors import APIError, NotFound

        api = self.engine(Stage.RUN).api
        try:
            state = api.inspect_container(handle["container"])["State"]
        except NotFound:
            return self._vanished(handle)
        if state["Status"] == "created":
            # Created, never started: the agent stopped in between. Start it now, as asked.
            try:
                api.start(handle["container"])
            except APIError as exc:
                message = f"the container could not be started: {exc.explanation or exc}"
                return RunStatus.failed(Stage.RUN, message)
            return RunStatus(RunState.RUNNING, "started after an agent restart")
        if state["Status"] in ("running", "restarting", "paused"):
            return RunStatus(RunState.RUNNING)
        return self._ended(handle, state)

    def wait(self, handle: Handle, timeout: float) -> RunStatus:
        import requests
        from docker.errors import NotFound

        api = self.engine(Stage.RUN).api
        self._ensure_pump(handle)
        try:
            exited = api.wait(handle["container"], timeout=max(1, int(timeout)))
        except requests.exceptions.RequestException as exc:
            if _is_read_timeout(exc):
                return RunStatus(RunState.RUNNING)  # still running after `timeout`
            # The engine went away: don't spin; say so, and look again after a while.
            time.sleep(min(timeout, ENGINE_RETRY_SECONDS))
            return RunStatus(RunState.RUNNING, f"the Docker engine is unreachable ({_reason(exc)})")
        except NotFound:
            return self._vanished(handle)
        if exited.get("StatusCode") == 0:
            return self._ended(handle, {"ExitCode": 0})  # no OOM kill to look for: skip inspect
        return self.status(handle)

    def _ensure_pump(self, handle: Handle) -> None:
        container_id = handle["container"]
        api = self.engine(Stage.RUN).api
        with self._lock:
            pump = self._pumps.get(container_id)
            # A pump whose stream ended while the container runs (the engine restarted) is
            # replaced: the cursor makes the new one start where the old one stopped.
            if pump is None or pump.done.is_set():
                run_dir = Path(handle["run_dir"])
                pump = LogPump(
                    api,
                    container_id,
                    Path(handle["log"]),
                    run_dir / "log_cursor",
                )
                self._pumps[container_id] = pump.start()

    def _drain_logs(self, handle: Handle) -> None:
        """Every line the container printed is in the run's log before its end is reported."""
        with self._lock:
            pump = self._pumps.pop(handle["container"], None)
        if pump is not None:
            pump.wait(self.log_drain_seconds)
        # Whatever the pump missed (its stream cut short, or no agent watching at the end):
        # copy what the container printed since the cursor.
        with contextlib.suppress(Exception):
            copy_output(
                self.engine(Stage.RUN).api,
                handle["container"],
                Path(handle["log"]),
                Path(handle["run_dir"]) / "log_cursor",
                follow=False,
            )

    def _ended(self, handle: Handle, state: dict) -> RunStatus:
        self._drain_logs(handle)
        code = state.get("ExitCode")
        if state.get("OOMKilled"):
            limit = handle.get("memory")
            reason = "out of memory" + (f" (limit {format_bytes(limit)})" if limit else "")
            status = RunStatus.failed(Stage.RUN, reason, exit_code=code)
        elif code == 0:
            status = RunStatus(RunState.FINISHED, "exited with code 0", exit_code=0)
        else:
            reason = describe_exit(code) if code is not None else "the container died"
            if state.get("Error"):
                reason += f": {state['Error']}"
            status = RunStatus.failed(Stage.RUN, reason, exit_code=code)
        _record_exit(handle, status)
        if status.state is RunState.FINISHED or not handle.get("keep_failed"):
            self._remove_later(handle["container"])
        return status

    def _vanished(self, handle: Handle) -> RunStatus:
        recorded = _recorded_exit(handle)
        if recorded is not None:
            return recorded  # we removed it ourselves, after it ended
        # The documented outcome of a remote object deleted behind launchbay's back.
        return RunStatus.failed(
            Stage.RUN,
            "its container is gone (deleted outside launchbay, or the engine lost it)",
            error_message=f"container {handle.get('name')} no longer exists (deleted outside"
            " launchbay)",
        )

    def _remove_later(self, container_id: str) -> None:
        """Remove off the agent's path: the run's end is reported without waiting for it."""

        def remove() -> None:
            from docker.errors import APIError

            with contextlib.suppress(APIError):
                self.engine(Stage.RUN).api.remove_container(container_id, force=True)

        threading.Thread(target=remove, name="launchbay-docker-rm", daemon=True).start()

    # -- cancel and re-adoption --------------------------------------------------------------

    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        """SIGTERM now, SIGKILL after the grace (docker stop), without blocking the agent."""
        from docker.errors import APIError

        api = self.engine(Stage.RUN).api
        try:
            # At once, so that a `launchbay cancel` that exits right away has still signalled.
            api.kill(handle["container"], signal="SIGTERM")
        except APIError:
            return  # not running any more

        def stop() -> None:
            from docker.errors import APIError

            with contextlib.suppress(APIError):
                self.engine(Stage.RUN).api.stop(
                    handle["container"], timeout=math.ceil(grace_seconds)
                )

        threading.Thread(target=stop, name="launchbay-docker-stop", daemon=True).start()

    def find(self, run_id: str, run_dir: Path) -> Handle | None:
        """The container of a run whose handle was never recorded, found by its label."""
        api = self.engine(Stage.AGENT).api
        found = api.containers(all=True, filters={"label": f"{LABEL_RUN_ID}={run_id}"})
        if not found:
            return None
        container = api.inspect_container(found[0]["Id"])
        memory = container["HostConfig"].get("Memory") or None
        return {
            "container": container["Id"],
            "name": container["Name"].lstrip("/"),
            "image": container["Config"]["Image"],
            "log": str(run_dir / "output.log"),
            "run_dir": str(run_dir),
            "memory": memory,
            "keep_failed": container["Config"]["Labels"].get(LABEL_KEEP_FAILED) == "1",
        }


def _engine_is_local() -> bool:
    """Whether the engine runs on this machine and sees our files (a unix socket)."""
    return os.environ.get("DOCKER_HOST", "unix://").startswith("unix://")


def _config_archive(run_config: dict) -> bytes:
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


def _ulimit(name: str, value):
    from docker.types import Ulimit

    if isinstance(value, int):
        return Ulimit(name=name, soft=value, hard=value)
    return Ulimit(name=name, soft=value.soft, hard=value.hard)


def _device_requests(gpus, device_request) -> list | None:
    if not gpus:  # none, 0 or an empty list: no GPU at all
        return None
    if gpus == "all":
        return [device_request(count=-1, capabilities=[["gpu"]])]
    if isinstance(gpus, int):
        return [device_request(count=gpus, capabilities=[["gpu"]])]
    return [device_request(device_ids=list(gpus), capabilities=[["gpu"]])]


def _record_exit(handle: Handle, status: RunStatus) -> None:
    record = {
        "state": status.state.value,
        "message": status.message,
        "exit_code": status.exit_code,
        "error_stage": status.error_stage.value if status.error_stage else None,
        "error_message": status.error_message,
    }
    write_private(Path(handle["run_dir"]) / EXIT_RECORD, json.dumps(record))


def _recorded_exit(handle: Handle) -> RunStatus | None:
    try:
        record = json.loads((Path(handle["run_dir"]) / EXIT_RECORD).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return RunStatus(
        RunState(record["state"]),
        record["message"],
        exit_code=record["exit_code"],
        error_stage=Stage(record["error_stage"]) if record["error_stage"] else None,
        error_message=record["error_message"],
    )


def _is_read_timeout(exc: Exception) -> bool:
    """docker-py reports its own read timeout as a ConnectionError wrapping urllib3's."""
    from urllib3.exceptions import ReadTimeoutError

    return any(isinstance(arg, ReadTimeoutError) for arg in exc.args) or "timed out" in str(exc)


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "No such file or directory", "Permission denied"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:200] if text else type(exc).__name__

"""The `docker` resource (alias `local-container`): each run is a container on a Docker engine.

The engine is the one `DOCKER_HOST` or the default socket points to. Code and git jobs are
built into an image first (runners.images.builder); image jobs run their image. The container
carries launchbay's labels, so a restarted agent finds it again; docker keeps its output, which a
log pump copies into the run's log as it is printed.
"""

import contextlib
import json
import math
import threading
import time
from pathlib import Path

from runners.images.builder import BuildLog, ensure_image
from runners.launch.templating import check_variables_are_enums
from runners.metrics.jsonl import METRICS_FILE_ENV
from runners.protocol import Capability, Handle, RunnerError, RunStatus, SubmitContext
from runners.system.files import write_private
from runners.targets.docker import sdk
from runners.targets.docker.aliases import canonical
from runners.targets.docker.logs import LogPump, copy_output
from runners.targets.docker.request import (
    CONFIG_DIR_IN_CONTAINER,
    LABEL_KEEP_FAILED,
    LABEL_RUN_ID,
    config_archive,
    container_settings,
    host_config,
    metrics_file_in_container,
    mount_metrics_dir,
)
from runners.targets.docker.settings import (
    SANDBOX_KEYS,
    DockerArgs,
    check_docker_args,
    check_docker_override,
)
from runners.targets.docker.status import ended_status, record_exit, vanished_status
from runners.targets.remote import RemoteRunner
from store import JobVersion, RunState, Stage

ENGINE_RETRY_SECONDS = 5.0


class DockerRunner(RemoteRunner):
    resource_type = "docker"
    capabilities = frozenset(
        {Capability.BUILDS_IMAGES, Capability.STARTS_RUNNING, Capability.SHARES_GPUS}
    )
    #: the log pump (the engine's log stream, copied into the run's log) gets 30 s, not 15
    log_drain_seconds = 30.0

    # -- checks (no SDK needed) --------------------------------------------------------------

    def normalize(self, resource_args: dict) -> dict:
        """W&B's docker flag spellings (`-v`, `--net`, `env: [A=1]`) as launchbay's keys."""
        return canonical(resource_args)

    def check_resource_args(self, resource_args: dict, target: dict | None = None) -> dict:
        return check_docker_args(resource_args).model_dump()

    def system_sampler(self, handle: Handle):
        """The container as the engine measures it (its stats stream, followed by a thread)."""
        from runners.targets.docker.stats import ContainerStats

        return ContainerStats(handle["container"]).sample

    def give_gpus(self, spec: dict, gpus: tuple) -> dict:
        """A count becomes a device request for exactly the devices the agent chose."""
        if not gpus:
            return spec
        args = {**spec["resource_args"], "gpus": [gpu.key for gpu in gpus]}
        return {**spec, "resource_args": args}

    def check_template_placement(self, resource_args: dict, variables: dict) -> None:
        resource_args = canonical(resource_args)
        for key in SANDBOX_KEYS:
            check_variables_are_enums(resource_args.get(key), variables, f"resource_args.{key}")

    def check_launch_override(
        self, queue_args: dict, launch_args: dict, queue_config: dict
    ) -> None:
        check_docker_override(queue_args, launch_args)

    def check_job(self, job: JobVersion) -> None:
        """Every kind of job runs in a container: images as they are, code and git built."""

    def preview_submission(self, spec: dict) -> dict:
        """The container the engine would be asked to create: docker-py's create_container and
        create_host_config arguments (the mounts of the run's config and metrics folder, made
        at submit, aside). Plain data: the SDK is not imported for a dry run."""
        args = DockerArgs.model_validate(spec["resource_args"] or {})
        settings = container_settings(spec, args)
        host = settings["host_config"]
        settings["host_config"] = {
            k: v for k, v in host.items() if v is not None and v is not False
        }
        image = spec.get("image") or "<the image built for the run>"
        return {"create_container": {"image": image, **settings}}

    def config_file_path(self, run_dir: Path) -> str:
        return f"{CONFIG_DIR_IN_CONTAINER}/config.json"

    def metrics_file_path(self, run_dir: Path) -> str | None:
        # A remote engine can't write our files: its job prints the protocol's lines instead.
        return metrics_file_in_container(run_dir) if sdk.engine_is_local() else None

    def run_files(self, spec: dict, run_dir: Path):
        """The run's folder on this machine (its log, config, metrics and build context), and
        each writable bind mount of its own (its host path names the run, as a queue's
        `/scratch/${run_id}:/outputs` does). The container's own working folder is not on this
        machine; a writable volume shared by runs is named, not listed."""
        from runners.runfiles import RunFiles

        from .settings import parse_volume

        run_id = run_dir.name
        mounts, shared = {}, []
        for volume in (spec.get("resource_args") or {}).get("volumes") or []:
            source, target, mode = parse_volume(volume)
            if mode == "ro":
                continue
            if source.startswith("/") and any(run_id in part for part in Path(source).parts):
                mounts[target.strip("/").replace("/", "-") or "root"] = Path(source)
            else:
                shared.append(volume)
        note = "the container's working folder stays in the container (not listed)"
        if shared:
            note += "; writable volumes shared by runs (not listed): " + ", ".join(shared)
        elif not mounts:
            note += "; mount a writable volume in resource_args.volumes to keep its outputs"
        return RunFiles(run_dir, note, mounts)

    # -- the engine ------------------------------------------------------------------------------

    def engine(self, stage: Stage):
        """The docker client (runners.targets.docker.sdk.engine: shared with the image builder)."""
        return sdk.engine(stage)

    # -- submit ----------------------------------------------------------------------------------

    def submit(self, ctx: SubmitContext) -> Handle:
        args = DockerArgs.model_validate(ctx.spec["resource_args"] or {})
        client = self.engine(Stage.BUILD)
        build_log = BuildLog(ctx.log_path)
        image = ensure_image(
            client, ctx.spec, ctx.job, ctx.artifact_path, ctx.run_dir / "build", build_log
        )
        name = f"launchbay-{ctx.run_id}"
        settings = host_config(client, container_settings(ctx.spec, args))
        config_mounted = sdk.engine_is_local()
        if config_mounted:
            # A read-only bind of the file costs nothing; copying it in (put_archive) costs a
            # round trip of ~90 ms. Readable by any user: the job may not run as us; the run's
            # folder (0700) keeps it private on the host.
            config_file = ctx.run_dir / "config.json"
            write_private(config_file, json.dumps(ctx.spec["run_config"], indent=2), mode=0o644)
            settings["host_config"].setdefault("Binds", []).append(
                f"{config_file}:{CONFIG_DIR_IN_CONTAINER}/config.json:ro"
            )
            if ctx.spec["env"].get(METRICS_FILE_ENV):
                mount_metrics_dir(settings, ctx.run_dir)
        try:
            container = client.api.create_container(image, name=name, **settings)
        except sdk.errors.ImageNotFound as exc:
            raise RunnerError(Stage.BUILD, f"image {image} is gone: {exc.explanation}") from None
        except sdk.errors.APIError as exc:
            raise RunnerError(
                Stage.RUN, f"creating the container failed: {exc.explanation or exc}"
            ) from None
        container_id = container["Id"]
        try:
            if not config_mounted:  # a remote engine can't see our files
                client.api.put_archive(container_id, "/", config_archive(ctx.spec["run_config"]))
            client.api.start(container_id)
        except sdk.errors.APIError as exc:
            if not args.keep_failed_containers:  # else kept, like any failed run's, to inspect
                with contextlib.suppress(sdk.errors.APIError):
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

    # -- following ------------------------------------------------------------------------------

    def status(self, handle: Handle) -> RunStatus:
        api = self.engine(Stage.RUN).api
        try:
            state = api.inspect_container(handle["container"])["State"]
        except sdk.errors.NotFound:
            return vanished_status(handle)
        if state["Status"] == "created":
            # Created, never started: the agent stopped in between. Start it now, as asked.
            try:
                api.start(handle["container"])
            except sdk.errors.APIError as exc:
                message = f"the container could not be started: {exc.explanation or exc}"
                return RunStatus.failed(Stage.RUN, message)
            return RunStatus(RunState.RUNNING, "started after an agent restart")
        if state["Status"] in ("running", "restarting", "paused"):
            return RunStatus(RunState.RUNNING)
        if state["Status"] in ("removing", "dead"):
            # `docker rm -f` on a live run: the engine marks it removing, then kills it (137);
            # that is a container deleted behind launchbay's back, not a SIGKILL of the job.
            return vanished_status(handle)
        return self._ended(handle, state)

    def wait(self, handle: Handle, timeout: float) -> RunStatus:
        api = self.engine(Stage.RUN).api
        self._ensure_pump(handle)
        try:
            exited = api.wait(handle["container"], timeout=max(1, int(timeout)))
        except sdk.errors.NotFound:  # first: docker's errors are requests' errors too
            return vanished_status(handle)
        except sdk.requests_exceptions.RequestException as exc:
            if sdk.is_read_timeout(exc):
                return RunStatus(RunState.RUNNING)  # still running after `timeout`
            # The engine went away: don't spin; say so, and look again after a while.
            time.sleep(min(timeout, ENGINE_RETRY_SECONDS))
            return RunStatus(
                RunState.RUNNING, f"the Docker engine is unreachable ({sdk.reason(exc)})"
            )
        if exited.get("StatusCode") == 0:
            return self._ended(handle, {"ExitCode": 0})  # no OOM kill to look for: skip inspect
        return self.status(handle)

    def _ensure_pump(self, handle: Handle) -> None:
        container_id = handle["container"]
        api = self.engine(Stage.RUN).api
        log, cursor = Path(handle["log"]), Path(handle["run_dir"]) / "log_cursor"
        self.follow_logs(
            container_id,
            lambda: LogPump(api, container_id, log, cursor),
            replace_ended=True,  # a stream cut while the container runs (the engine restarted)
        )

    def _drain_logs(self, handle: Handle) -> None:
        """Every line the container printed is in the run's log before its end is reported."""
        self.drain_logs(handle["container"])
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
        status = ended_status(state, handle.get("memory"))
        record_exit(handle, status)
        if status.state is RunState.FINISHED or not handle.get("keep_failed"):
            self._remove_later(handle["container"])
        return status

    def _remove_later(self, container_id: str) -> None:
        """Remove off the agent's path: the run's end is reported without waiting for it."""

        def remove() -> None:
            with contextlib.suppress(sdk.errors.APIError):
                self.engine(Stage.RUN).api.remove_container(container_id, force=True)

        threading.Thread(target=remove, name="launchbay-docker-rm", daemon=True).start()

    # -- cancel and re-adoption --------------------------------------------------------------

    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        """SIGTERM now, SIGKILL after the grace (docker stop), without blocking the agent."""
        api = self.engine(Stage.RUN).api
        try:
            # At once, so that a `launchbay cancel` that exits right away has still signalled.
            api.kill(handle["container"], signal="SIGTERM")
        except sdk.errors.APIError:
            return  # not running any more

        def stop() -> None:
            with contextlib.suppress(sdk.errors.APIError):
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

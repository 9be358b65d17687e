"""The `kubernetes` resource: each run is a Job (or a custom object) on a cluster.

The official client talks to the cluster that the queue's `target:` names (a kubeconfig file and
context; in a pod, the in-cluster service account). The manifest is checked offline before it
is sent; the run is followed through watch streams on the Job and its pods, which survive
dropped connections and 5xx answers; the pods' logs are copied into the run's log.
"""

import contextlib
import importlib.util
import time
from pathlib import Path

from runners.images.builder import image_for_run
from runners.launch.templating import check_variables_are_enums
from runners.protocol import Capability, Handle, RunnerError, RunStatus, SubmitContext
from runners.targets.kubernetes import sdk
from runners.targets.kubernetes import settings as kube_settings
from runners.targets.kubernetes.logs import RunFollower, api_message
from runners.targets.kubernetes.manifest import (
    LABEL_RUN_ID,
    check_pod_templates,
    config_map,
    is_batch_job,
    lift_namespace,
    render_manifest,
    resource_name,
    validate,
)
from runners.targets.kubernetes.sdk import ClusterApis, connect, group_version
from runners.targets.kubernetes.watch import call_with_retry, is_transient, list_raw
from runners.targets.remote import RemoteRunner
from store import BadInput, JobVersion, RunState, Stage

CONFIG_FILE = "/launchbay/config.json"
CANCEL_MARK = "cancel_requested"
PREVIEW_IMAGE = "<the image built for the run>"


class KubernetesRunner(RemoteRunner):
    resource_type = "kubernetes"
    capabilities = frozenset({Capability.BUILDS_IMAGES, Capability.NEEDS_REGISTRY})

    def __init__(self) -> None:
        super().__init__()
        self._deleted_by_us: set[str] = set()

    # -- checks ------------------------------------------------------------------------------

    def check_target(self, target) -> dict | None:
        return kube_settings.check_target(target) or None

    def normalize(self, resource_args: dict) -> dict:
        """W&B's top-level `namespace` as metadata.namespace."""
        return lift_namespace(resource_args)

    def check_resource_args(self, resource_args: dict, target: dict | None = None) -> dict:
        version = kube_settings.KubernetesTarget.model_validate(target or {}).kubernetes_version
        resource_args = lift_namespace(resource_args)
        self._check_manifest(resource_args, version)
        return resource_args

    def _check_manifest(self, resource_args: dict, version: str) -> None:
        """The manifest template, checked by rendering it as a run would and validating it."""
        sample = render_manifest(
            resource_args,
            run_id="dryrun00",
            queue="queue",
            namespace="default",
            image="image:latest",
            spec={"entry_point": None, "args": [], "env": {"LAUNCHBAY_RUN_ID": "dryrun00"}},
            ttl_seconds=3600,
        )
        validate(sample, version)
        check_pod_templates(sample)

    def check_template_placement(self, resource_args: dict, variables: dict) -> None:
        for where, value in kube_settings.sandbox_values(resource_args).items():
            check_variables_are_enums(value, variables, f"resource_args.{where}")

    def check_launch_override(self, queue_args: dict, launch_args: dict, queue_config: dict):
        target = queue_config.get("target") or {}
        kube_settings.check_override(queue_args, launch_args, target)

    def check_job(self, job: JobVersion) -> None:
        """Image jobs run their image; code and git jobs are built and pushed first."""

    def config_file_path(self, run_dir: Path) -> str:
        return CONFIG_FILE

    def run_files(self, spec: dict, run_dir: Path):
        """The run's folder under the queue's `target.outputs` (S3), where one is set."""
        from runners.runfiles import RunFiles
        from runners.targets.sagemaker import sdk as aws
        from runners.targets.sagemaker.files import S3Files

        target = _target(spec)
        uri = kube_settings.outputs_uri(target, spec.get("run_id") or run_dir.name)
        if uri is None:
            # The pod's own volumes (emptyDir, a PVC) are no place launchbay can read from here.
            return RunFiles(
                None,
                "kubernetes runs' files are not listed: their queue sets no target.outputs (an"
                " S3 folder each run writes to, at $LAUNCHBAY_OUTPUTS)",
            )
        if importlib.util.find_spec("boto3") is None:
            return RunFiles(
                None,
                f"this run's files are in {uri}; install boto3 (pip install"
                " 'launchbay[sagemaker]') for launchbay to list them",
            )
        endpoint = target.outputs_endpoint_url

        def s3():  # the usual AWS credentials and region (env, profile, instance role)
            return self.client(
                ("s3", endpoint), lambda: aws.boto3.client("s3", endpoint_url=endpoint)
            )

        return RunFiles(None, remote=S3Files(uri, s3))

    def preview_submission(self, spec: dict) -> dict:
        target = spec.get("target") or {}
        namespace = target.get("namespace") or "<the context's namespace>"
        return {
            "manifest": render_manifest(
                spec["resource_args"],
                run_id=spec["run_id"],
                queue=spec["queue"],
                namespace=namespace,
                image=spec.get("image") or PREVIEW_IMAGE,
                spec=_with_outputs(spec, _target(spec), spec["run_id"]),
                ttl_seconds=_target(spec).ttl_seconds_after_finished,
            )
        }

    # -- the cluster ---------------------------------------------------------------------------

    def _cluster(self, cluster: dict, stage: Stage) -> ClusterApis:
        key = (cluster.get("kubeconfig"), cluster.get("context"))
        return self.client(key, lambda: connect(cluster, stage))

    # -- submit --------------------------------------------------------------------------------

    def submit(self, ctx: SubmitContext) -> Handle:
        spec = ctx.spec
        target = _target(spec)
        cluster = {"kubeconfig": target.kubeconfig, "context": target.context}
        apis = self._cluster(cluster, Stage.RUN)
        image = image_for_run(ctx)
        template_namespace = (spec["resource_args"].get("metadata") or {}).get("namespace")
        namespace = template_namespace or target.namespace or apis.default_namespace
        manifest = render_manifest(
            spec["resource_args"],
            run_id=ctx.run_id,
            queue=spec["queue"],
            namespace=namespace,
            image=image,
            spec=_with_outputs(spec, target, ctx.run_id),
            ttl_seconds=target.ttl_seconds_after_finished,
        )
        try:
            validate(manifest, target.kubernetes_version)
        except BadInput as exc:
            raise RunnerError(Stage.RUN, f"the manifest is not valid: {exc}") from None
        batch = is_batch_job(manifest)
        handle = {
            "run_id": ctx.run_id,
            "cluster": cluster,
            "namespace": namespace,
            "name": resource_name(ctx.run_id),
            "api_version": manifest["apiVersion"],
            "kind": manifest["kind"],
            "plural": manifest["kind"].lower() + "s",
            "batch": batch,
            "image": image,
            "log": str(ctx.log_path),
            "run_dir": str(ctx.run_dir),
            "pull_grace": target.image_pull_grace_seconds,
        }
        self.record_handle(ctx.run_dir, handle)
        self._create(
            apis,
            handle,
            manifest,
            config_map(ctx.run_id, spec["queue"], namespace, spec["run_config"]),
        )
        handle["created"] = True
        self._follower(handle)
        return handle

    def _create(self, apis: ClusterApis, handle: Handle, manifest: dict, config: dict) -> None:
        namespace = handle["namespace"]
        try:
            _create_or_keep(apis.core.create_namespaced_config_map, namespace, config)
            if handle["batch"]:
                _create_or_keep(apis.batch.create_namespaced_job, namespace, manifest)
            else:
                group, version = group_version(handle["api_version"])
                _create_or_keep(
                    lambda ns, body: apis.custom.create_namespaced_custom_object(
                        group, version, ns, handle["plural"], body
                    ),
                    namespace,
                    manifest,
                )
        except sdk.exceptions.ApiException as exc:
            self._delete_config_map(handle)  # made first; no Job will ever mount it
            raise RunnerError(Stage.RUN, _refusal(exc, handle)) from None
        except Exception as exc:
            if is_transient(exc):  # the API server unreachable even after the retries
                raise RunnerError(
                    Stage.RUN, f"cannot reach the cluster's API server: {type(exc).__name__}: {exc}"
                ) from None
            first_lines = " ".join(str(exc).splitlines()[:3])
            raise RunnerError(
                Stage.RUN, f"the kubernetes client refused the manifest: {first_lines}"
            ) from None

    # -- following -----------------------------------------------------------------------------

    def _follower(self, handle: Handle) -> RunFollower:
        key = handle["run_id"]
        apis = self._cluster(handle["cluster"], Stage.RUN)
        follower = self.follow_logs(key, lambda: RunFollower(apis, handle))
        with self._lock:
            if key in self._deleted_by_us or (Path(handle["run_dir"]) / CANCEL_MARK).exists():
                follower.seen.deleted_by_us = True
        return follower

    def status(self, handle: Handle) -> RunStatus:
        follower = self._follower(handle)
        deadline = time.monotonic() + 10
        # The first answer needs both lists in; an adopting agent asks once, and waits that long.
        while follower.seen.job is None and not follower.seen.job_deleted:
            if time.monotonic() > deadline:
                break
            follower.wait(0.2)
        return self._current(handle, follower)

    def wait(self, handle: Handle, timeout: float) -> RunStatus:
        follower = self._follower(handle)
        before = self._current(handle, follower)
        if before.state.is_terminal():
            return before
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Wake at least every second: an image pull's grace runs out without an event.
            follower.wait(min(1.0, max(0.0, deadline - time.monotonic())))
            now = self._current(handle, follower)
            if (now.state, now.message) != (before.state, before.message):
                return now
        return before

    def _current(self, handle: Handle, follower: RunFollower) -> RunStatus:
        status = follower.status(handle.get("pull_grace", 120.0))
        if status.state is RunState.FAILED and status.exit_code is None:
            # The Job's watch can tell of its failure before the pods' watch tells why: read
            # the pods once more, so the run ends with the container's reason and exit code.
            follower.refresh_pods()
            status = follower.status(handle.get("pull_grace", 120.0))
        if not status.state.is_terminal() and follower.error_status in (401, 403):
            # Not allowed to watch or list: the run's end would never be seen. Say what to grant.
            message = (
                f"the cluster refused to let the agent follow the run ({follower.error}); give"
                f" its user get, list and watch on jobs and pods, and get on pods/log, in"
                f" namespace {handle['namespace']}"
            )
            status = RunStatus.failed(Stage.RUN, message)
        if status.state.is_terminal():
            self._finish(handle, follower, status)
        elif follower.error:
            status = RunStatus(status.state, f"{status.message} (API: {follower.error})")
        return status

    def _finish(self, handle: Handle, follower: RunFollower, status: RunStatus) -> None:
        """Every line is in the run's log before its end is reported; then stop watching."""
        self.drain_logs(handle["run_id"])
        follower.stop()
        if status.state is RunState.PREEMPTED or status.error_stage is Stage.BUILD:
            # Called off while the Job still lives (its retry pod, or the pod that can't pull
            # its image): delete it, or it would run beside the requeued run, or hang forever.
            with contextlib.suppress(Exception):
                self._delete(handle)
            return
        # The Job stays for `kubectl describe` until its TTL; the run config it no longer needs.
        self._delete_config_map(handle)

    # -- cancel, re-adoption --------------------------------------------------------------

    def cancel(self, handle: Handle, grace_seconds: float) -> None:
        """Delete the Job (propagation Background: its pods go too, with their grace)."""
        with self._lock:
            self._deleted_by_us.add(handle["run_id"])
            follower = self._followers.get(handle["run_id"])
            if follower is not None:
                follower.seen.deleted_by_us = True
        # A mark in the run's folder: the agent that sees the Job go may not be this process
        # (`launchbay cancel` with no agent running).
        with contextlib.suppress(OSError):
            (Path(handle["run_dir"]) / CANCEL_MARK).touch()
        self._delete(handle, grace_seconds)

    def _delete(self, handle: Handle, grace_seconds: float | None = None) -> None:
        apis = self._cluster(handle["cluster"], Stage.RUN)
        namespace, name = handle["namespace"], handle["name"]
        grace = int(grace_seconds) if grace_seconds is not None else None
        try:
            if handle["batch"]:
                call_with_retry(
                    apis.batch.delete_namespaced_job,
                    name,
                    namespace,
                    propagation_policy="Background",
                    grace_period_seconds=grace,
                )
            else:
                group, version = group_version(handle["api_version"])
                call_with_retry(
                    apis.custom.delete_namespaced_custom_object,
                    group,
                    version,
                    namespace,
                    handle["plural"],
                    name,
                    propagation_policy="Background",
                )
        except sdk.exceptions.ApiException as exc:
            if exc.status != 404:
                raise RunnerError(Stage.RUN, _refusal(exc, handle)) from None
        self._delete_config_map(handle)

    def _delete_config_map(self, handle: Handle) -> None:
        apis = self._cluster(handle["cluster"], Stage.RUN)
        # The cluster's garbage, not the run's fate: a failure here changes nothing for it.
        with contextlib.suppress(Exception):
            call_with_retry(
                apis.core.delete_namespaced_config_map, handle["name"], handle["namespace"]
            )

    def find(self, run_id: str, run_dir: Path) -> Handle | None:
        handle = self.recorded_handle(run_dir)
        if handle is None:
            return None
        apis = self._cluster(handle["cluster"], Stage.AGENT)
        list_call, kwargs = apis.object_list_call(handle)
        kwargs = {k: v for k, v in kwargs.items() if k != "field_selector"}
        found = list_raw(list_call, label_selector=f"{LABEL_RUN_ID}={run_id}", **kwargs)
        if not found.get("items"):
            return None  # never created: the agent died before submitting
        handle["created"] = True
        return handle


def _target(spec: dict) -> kube_settings.KubernetesTarget:
    return kube_settings.KubernetesTarget.model_validate(spec.get("target") or {})


def _with_outputs(spec: dict, target: kube_settings.KubernetesTarget, run_id: str) -> dict:
    """The spec with LAUNCHBAY_OUTPUTS in the job's env, where the queue sets `outputs`."""
    uri = kube_settings.outputs_uri(target, run_id)
    if uri is None:
        return spec
    return {**spec, "env": {**(spec.get("env") or {}), "LAUNCHBAY_OUTPUTS": uri}}


def _create_or_keep(create, namespace: str, body: dict) -> None:
    """Create; a 409 means our own object from before an agent restart, which is kept."""
    try:
        call_with_retry(create, namespace, body)
    except sdk.exceptions.ApiException as exc:
        if exc.status != 409:
            raise


def _refusal(exc, handle: Handle) -> str:
    message = api_message(exc)
    where = f"namespace {handle['namespace']}"
    if exc.status == 403:
        return (
            f"the cluster refused ({message}); give the agent's user RBAC permission to create"
            f" and delete {handle['kind']}s, pods/log and configmaps in {where}"
        )
    if exc.status == 401:
        return f"the cluster did not accept the credentials ({message}); check the kubeconfig"
    if exc.status == 422:
        return f"the cluster rejected the manifest ({message})"
    return f"the cluster answered {message} for {handle['kind']} {handle['name']} in {where}"

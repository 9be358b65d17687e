"""The manifest a kubernetes run submits: the queue's template with launchbay's defaults.

The queue's resource_args are a manifest template, a batch/v1 Job unless they name another
apiVersion/kind (Volcano, JobSet, Kubeflow…: created as custom objects). In each pod template
that runs the job (see `_runs_the_job`), the containers that run it (see `_job_containers`: the
first, and every other whose image is `${image_uri}` or none) get the job's image, and their
command and args are the job's, whatever the template had: the job's entry point and args
replace them, and a job without an entry point runs its image's own (neither is kept from the
template). Every container of every pod template gets launchbay's env, and the run config
mounted from a ConfigMap at /launchbay/config.json, as W&B gives every container its env. A
manifest with containers outside those pod templates (a Volcano `tasks` list beside `spec`, a
Job's containers under the wrong key) is refused, naming the path: they would run without the
job's command and env. Every container is hardened as the Pod Security "restricted" profile
asks (no privilege escalation, no capabilities, the RuntimeDefault seccomp profile) wherever
the template says nothing else.
"""

import copy
import functools
import json
import re
from typing import Any

from runners.launch.rendering import deep_merge
from runners.targets.kubernetes import sdk
from runners.targets.remote import put_command
from store import BadInput

LABEL_RUN_ID = "launchbay.io/run-id"
LABEL_QUEUE = "launchbay.io/queue"
CONFIG_MOUNT = "/launchbay"
CONFIG_VOLUME = "launchbay-config"
DEFAULT_CONTAINER = "main"
JOB_API = ("batch/v1", "Job")


def resource_name(run_id: str) -> str:
    """The Job's (and its ConfigMap's) name: a DNS-1123 label made from the run id."""
    return f"launchbay-{run_id.lower()}"


def label_value(text: str) -> str:
    """A label value: at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63].strip("._-") or "x"


def is_batch_job(manifest: dict) -> bool:
    return (manifest.get("apiVersion"), manifest.get("kind")) == JOB_API


def render_manifest(
    template: dict,
    *,
    run_id: str,
    queue: str,
    namespace: str,
    image: str | None,
    spec: dict,
    ttl_seconds: int,
) -> dict:
    """The manifest to create, from the queue's template (merged with the launch's)."""
    manifest = deep_merge({"apiVersion": JOB_API[0], "kind": JOB_API[1]}, template or {})
    labels = {LABEL_RUN_ID: run_id, LABEL_QUEUE: label_value(queue)}
    metadata = manifest.setdefault("metadata", {})
    metadata["name"] = resource_name(run_id)
    metadata["namespace"] = metadata.get("namespace") or namespace
    metadata.setdefault("labels", {}).update(labels)
    if is_batch_job(manifest):
        job_spec = manifest.setdefault("spec", {})
        job_spec.setdefault("backoffLimit", 0)
        job_spec.setdefault("ttlSecondsAfterFinished", ttl_seconds)
        pod_template = job_spec.setdefault("template", {})
        pod_template.setdefault("spec", {}).setdefault("restartPolicy", "Never")
    pod_templates = _pod_templates_of(manifest)
    for pod_template in pod_templates:
        pod_template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    template_image = _first_container(pod_templates[0]).get("image") if pod_templates else None
    for index, pod_template in enumerate(pod_templates):
        runs_the_job = _runs_the_job(index, _first_container(pod_template), template_image)
        job_containers = _job_containers(pod_template, image, template_image)
        for number, container in enumerate(pod_template["spec"]["containers"]):
            if isinstance(container, dict):
                container.setdefault("name", DEFAULT_CONTAINER if number == 0 else f"c{number}")
                runs = runs_the_job and any(container is c for c in job_containers)
                _fill_container(pod_template, container, image, spec, resource_name(run_id), runs)
        _harden(pod_template["spec"])
    _quantities_as_strings(manifest)
    return manifest


def _runs_the_job(index: int, container: dict, template_image: str | None) -> bool:
    """The first pod template runs the job; so does a later one (a Kubeflow job's Worker, a
    JobSet's other replicated jobs) whose container names no image or the first one's, as
    distributed training wants. One with an image of its own (a parameter server, a monitor)
    keeps its command."""
    return index == 0 or not container.get("image") or container.get("image") == template_image


def _job_containers(pod_template: dict, image: str | None, template_image: str | None) -> list:
    """The containers of a pod template that run the job: the first, and every other that
    names no image (`${image_uri}` of a job still to be built renders empty) or the job's (what
    `${image_uri}` renders to) or the first one's. A sidecar with an image of its own keeps its
    command and args (W&B would give it the job's args too)."""
    containers = pod_template["spec"]["containers"]
    own = {image, template_image} - {None, ""}
    return [
        container
        for index, container in enumerate(containers)
        if isinstance(container, dict)
        and (index == 0 or not container.get("image") or container.get("image") in own)
    ]


def _pod_templates_of(manifest: dict) -> list[dict]:
    if is_batch_job(manifest):
        return [manifest["spec"]["template"]]
    return list(_pod_templates(manifest.get("spec")))


def check_pod_templates(manifest: dict) -> None:
    """Refuse, with BadInput, a rendered manifest whose structure would lose the job's command
    or env: containers that no pod template launchbay fills holds (a Volcano `tasks` list
    beside `spec`), naming the path of the first. (A custom kind with no containers at all is
    its CRD's to judge.)"""
    filled = {id(template["spec"]) for template in _pod_templates_of(manifest)}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "containers" in node and id(node) not in filled:
                where = f"{path}.containers" if path else "containers"
                raise BadInput(
                    f"resource_args.{where}",
                    "is outside the pod templates launchbay gives the job's command and env to"
                    " (a mapping with spec.containers under the manifest's spec, such as"
                    " spec.template.spec.containers or spec.tasks[0].template.spec.containers);"
                    " expected it there",
                )
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")

    walk(manifest, "")


# What every container gets unless the template says otherwise (as W&B's launch agent does).
DEFAULT_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _harden(pod: dict) -> None:
    """Fill in DEFAULT_SECURITY, setting by setting, where the template set nothing."""
    pod_profile = (pod.get("securityContext") or {}).get("seccompProfile")
    for key in ("initContainers", "containers"):
        for container in pod.get(key) or []:
            if not isinstance(container, dict):
                continue
            context = container.setdefault("securityContext", {})
            if context.get("privileged") is not True:  # the API refuses privileged + false
                context.setdefault("allowPrivilegeEscalation", False)
            context.setdefault("capabilities", copy.deepcopy(DEFAULT_SECURITY["capabilities"]))
            if pod_profile is None:  # a pod-wide profile is the template's word
                context.setdefault("seccompProfile", dict(DEFAULT_SECURITY["seccompProfile"]))


def _quantities_as_strings(node: Any) -> None:
    """`nvidia.com/gpu: 1` as "1": the API takes both, the Python client's models only text."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("limits", "requests") and isinstance(value, dict):
                for name, amount in value.items():
                    if isinstance(amount, int | float) and not isinstance(amount, bool):
                        value[name] = str(amount)
            else:
                _quantities_as_strings(value)
    elif isinstance(node, list):
        for value in node:
            _quantities_as_strings(value)


def lift_namespace(resource_args: dict) -> dict:
    """W&B also takes the namespace at the top of the resource args, beside the manifest: moved
    to metadata.namespace (where the manifest's own says the same, or nothing)."""
    if not isinstance(resource_args, dict) or "namespace" not in resource_args:
        return resource_args
    rest = {key: value for key, value in resource_args.items() if key != "namespace"}
    namespace = resource_args["namespace"]
    metadata = rest.get("metadata") or {}
    if not isinstance(metadata, dict):
        return resource_args  # the manifest's check names what metadata should be
    if metadata.get("namespace") not in (None, namespace):
        raise BadInput(
            "resource_args.namespace",
            f"{namespace!r} is not metadata.namespace {metadata['namespace']!r}; expected one"
            " namespace",
        )
    return {**rest, "metadata": {**metadata, "namespace": namespace}}


def _pod_templates(node: Any):
    """The pod templates of a custom kind: every mapping with spec.containers, outermost first."""
    if isinstance(node, dict):
        inner = node.get("spec")
        if isinstance(inner, dict) and isinstance(inner.get("containers"), list):
            yield node
            return
        for value in node.values():
            yield from _pod_templates(value)
    elif isinstance(node, list):
        for value in node:
            yield from _pod_templates(value)


def _first_container(pod_template: dict) -> dict:
    containers = pod_template.setdefault("spec", {}).setdefault("containers", [{}])
    if not containers:
        containers.append({})
    return containers[0]


def _fill_container(
    pod_template: dict,
    container: dict,
    image: str | None,
    spec: dict,
    config_map: str,
    runs_the_job: bool,
) -> None:
    """launchbay's env and the config mount on the container; the job's image, entrypoint and
    args too when it `runs_the_job`."""
    pod = pod_template["spec"]
    container.setdefault("name", DEFAULT_CONTAINER)
    if runs_the_job:
        if image:
            container["image"] = image
        # The job's argv replaces the template's whole: `command` + `args` glued from two
        # sources would run neither what the job says nor what the template says.
        container.pop("command", None)
        container.pop("args", None)
        put_command(container, spec)
    ours = dict(spec.get("env") or {})
    if "LAUNCHBAY_CONFIG_CHUNKS" in ours:
        # A run config that long is the ConfigMap's job (a Job object tops out at ~1.5 MiB).
        ours = {k: v for k, v in ours.items() if not k.startswith("LAUNCHBAY_CONFIG_")}
        ours["LAUNCHBAY_CONFIG_FILE"] = CONFIG_MOUNT + "/config.json"
    env = [entry for entry in container.get("env") or [] if entry.get("name") not in ours]
    container["env"] = env + [{"name": name, "value": value} for name, value in ours.items()]
    mounts = [m for m in container.get("volumeMounts") or [] if m.get("name") != CONFIG_VOLUME]
    container["volumeMounts"] = [
        *mounts,
        {"name": CONFIG_VOLUME, "mountPath": CONFIG_MOUNT, "readOnly": True},
    ]
    volumes = [v for v in pod.get("volumes") or [] if v.get("name") != CONFIG_VOLUME]
    pod["volumes"] = [*volumes, {"name": CONFIG_VOLUME, "configMap": {"name": config_map}}]


def config_map(run_id: str, queue: str, namespace: str, run_config: dict) -> dict:
    """The run config as a file: any size up to the API's 1 MiB, unlike an env value."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": resource_name(run_id),
            "namespace": namespace,
            "labels": {LABEL_RUN_ID: run_id, LABEL_QUEUE: label_value(queue)},
        },
        "data": {"config.json": json.dumps(run_config, indent=2)},
    }


def validate(manifest: dict, kubernetes_version: str, field: str = "resource_args") -> None:
    """Check the manifest offline against the API's schema (strict: unknown fields too);
    a failure names the path of the bad field. Kinds the schemas don't know are not checked."""
    known = _schema_versions()
    if kubernetes_version not in known:
        raise BadInput(
            "target.kubernetes_version",
            f"{kubernetes_version!r}; expected one of {known[0]} to {known[-1]}"
            " (the schemas kubernetes-validate has)",
        )
    try:
        sdk.validator.validate(copy.deepcopy(manifest), kubernetes_version, strict=True)
    except sdk.validator.ValidationError as exc:
        path = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in exc.path)
        path = path.replace(".[", "[")
        message = exc.message.splitlines()[0]
        raise BadInput(f"{field}.{path}" if path else field, message) from None
    except sdk.validator.SchemaNotFoundError:
        api_version = str(manifest.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]
        # Built in: batch, apps, core, networking.k8s.io… A CRD's group has a dot, and those
        # under k8s.io are only the reviewed ones, mostly x-k8s.io (JobSet, Kueue).
        built_in = "." not in group or (
            group.endswith(".k8s.io") and not group.endswith(".x-k8s.io")
        )
        if built_in:
            raise BadInput(
                f"{field}.kind",
                f"{manifest.get('kind')!r} is not a kind of {api_version} in Kubernetes"
                f" {kubernetes_version}",
            ) from None
        return  # a custom kind: its CRD's schema is in the cluster, not here
    except sdk.validator.InvalidSchemaError as exc:
        raise BadInput(field, f"cannot be checked: {exc}") from None


@functools.cache
def _schema_versions() -> list[str]:
    """The Kubernetes versions kubernetes-validate has schemas for ("1.25" …), oldest first:
    read from its package once."""
    versions = sdk.validator_utils.all_versions()
    minors = {".".join(version.split(".")[:2]) for version in versions}
    return sorted(minors, key=lambda v: tuple(int(part) for part in v.split(".")))

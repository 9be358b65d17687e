"""What a kubernetes queue may say about its cluster, and what a launch may not do to it.

The queue's `target:` block says where the cluster is and what its manifests may do; only the
queue's own config has one. Settings that escape the pod's sandbox — host paths, the host's
network, PID or IPC namespaces, host ports, privileged or escalating security contexts, another
service account — are refused in a launch override unless that block grants them by name. The
queue's own manifest template is its owner's choice, and is not second-guessed.
"""

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runners.launch.rendering import deep_merge
from runners.launch.validation import check_model
from store import BadInput

# Names a queue's `target.allow` may grant. `volumes`: any volume but emptyDir and configMap
# (secrets, claims, csi, nfs, gitRepo…); `secrets`: env from a secretKeyRef; `securityContext`:
# a weakened one (root user or group, a seccomp or AppArmor profile other than RuntimeDefault in
# a field or an annotation, seLinuxOptions, sysctls, procMount, hostProcess); `scheduling`:
# nodeName, priorityClassName; `mountPropagation`: Bidirectional or HostToContainer;
# `runtimeClassName`: another runtime than the queue's; `repeats`: one item running more than
# once (backoffLimit, completions, parallelism, a restartPolicy other than Never, a JobSet's
# maxRestarts, a Volcano job's maxRetry) against launchbay's backoffLimit 0 and Never.
SENSITIVE = (
    "hostPath",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "hostPort",
    "privileged",
    "allowPrivilegeEscalation",
    "capabilities",
    "serviceAccountName",
    "volumes",
    "secrets",
    "securityContext",
    "scheduling",
    "shareProcessNamespace",
    "mountPropagation",
    "runtimeClassName",
    "repeats",
)
SAFE_VOLUME_TYPES = frozenset({"name", "emptyDir", "configMap"})
# What a launch may never change: which kind of object the agent creates, and where.
FIXED_BY_QUEUE = (("apiVersion",), ("kind",), ("metadata", "namespace"))
_S3_FOLDER = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\0]*)?")
_MISSING = object()


class KubernetesTarget(BaseModel):
    """`target:` of a kubernetes queue."""

    model_config = ConfigDict(extra="forbid")

    kubeconfig: str | None = None
    """Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config; in a pod, the in-cluster
    service account)."""
    context: str | None = None
    """Context in the kubeconfig (default: its current context)."""
    namespace: str | None = None
    """Namespace when the manifest names none (else the context's, else `default`)."""
    allow: list[Literal[SENSITIVE]] = Field(default_factory=list)  # type: ignore[valid-type]
    """Sandbox escapes a launch override may use: hostPath, hostNetwork, privileged, …"""
    image_pull_grace_seconds: float = Field(default=120.0, ge=0, le=3600)
    """How long an image may fail to pull (ImagePullBackOff) before the run fails at build."""
    ttl_seconds_after_finished: int = Field(default=3600, ge=0)
    """Default ttlSecondsAfterFinished of the Job: the cluster removes it after that."""
    kubernetes_version: str = "1.33"
    """Schema version the manifest is validated against, offline, before submitting."""
    outputs: str | None = None
    """Where runs write their outputs, an S3 folder (`s3://bucket/prefix`): each run's is
    `<outputs>/<run id>/`, given to the job as LAUNCHBAY_OUTPUTS and listed by `runs files`."""
    outputs_endpoint_url: str | None = None
    """The S3 API of `outputs` when it is not AWS's: MinIO, Ceph, GCS's interoperability API."""

    @field_validator("outputs")
    @classmethod
    def _s3_folder(cls, value: str | None) -> str | None:
        if value is not None and not _S3_FOLDER.fullmatch(value):
            raise ValueError("expected an S3 folder, s3://bucket or s3://bucket/prefix")
        return value


def outputs_uri(target: KubernetesTarget, run_id: str) -> str | None:
    """The run's folder under the queue's `outputs`, None when it has none."""
    return f"{target.outputs.rstrip('/')}/{run_id}/" if target.outputs else None


def check_target(value: Any) -> dict:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise BadInput("target", "expected a mapping with kubeconfig, context, namespace, allow")
    return check_model(KubernetesTarget, value, "target").model_dump(exclude_defaults=True)


def sensitive_settings(node: Any) -> dict[str, tuple[str, Any]]:
    """Every sandbox-escaping setting in a manifest (fragment): {path: (name, value)}.

    Found by key wherever it sits, so Volcano, JobSet and other kinds nest their pod templates
    as they like and are still checked."""
    return {
        where: (name, value)
        for where, key, value in _entries(node)
        if (name := _sensitive_name(key, value))
    }


def _entries(node: Any, path: str = ""):
    """(path, key, value) of every entry of every mapping in `node`, outermost first."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            yield where, key, value
            yield from _entries(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _entries(value, f"{path}[{index}]")


def _sensitive_name(key: str, value: Any) -> str | None:
    for check in (_sandbox_escape, _weakened_security, _repeats):
        if name := check(key, value):
            return name
    return None


def _sandbox_escape(key: str, value: Any) -> str | None:
    if key == "hostPath":
        return "hostPath"
    if key == "volumes" and isinstance(value, list):
        kinds = {k for volume in value if isinstance(volume, dict) for k in volume}
        return "volumes" if kinds - SAFE_VOLUME_TYPES - {"hostPath"} else None
    if key == "secretKeyRef" or key == "secretRef":
        return "secrets"
    if key == "automountServiceAccountToken":
        return "serviceAccountName" if value is True else None
    if key in ("nodeName", "priorityClassName"):
        return "scheduling"
    if key in ("hostNetwork", "hostPID", "hostIPC", "privileged", "allowPrivilegeEscalation"):
        return key if value is True else None
    if key == "shareProcessNamespace":
        return key if value is True else None
    if key == "hostPort":
        return "hostPort"
    if key == "capabilities" and isinstance(value, dict) and value.get("add"):
        return "capabilities"
    if key in ("serviceAccountName", "serviceAccount"):
        return "serviceAccountName"
    if key == "mountPropagation":
        return key if value in ("Bidirectional", "HostToContainer") else None
    if key == "runtimeClassName":
        return key
    return None


# Annotations that set a profile, before the fields existed (and still honoured by kubelets).
PROFILE_ANNOTATIONS = (
    "container.apparmor.security.beta.kubernetes.io/",
    "seccomp.security.alpha.kubernetes.io/pod",
    "container.seccomp.security.alpha.kubernetes.io/",
)
CONFINED_ANNOTATION_VALUES = frozenset({"runtime/default", "docker/default"})


def _weakened_security(key: str, value: Any) -> str | None:
    if key in ("runAsUser", "runAsGroup", "fsGroup") and value == 0:
        return "securityContext"
    if key == "supplementalGroups" and isinstance(value, list) and 0 in value:
        return "securityContext"
    if key == "runAsNonRoot" and value is False:
        return "securityContext"
    # Unconfined, and Localhost too: a profile on the node the launch picks, not one it vets.
    if key in ("seccompProfile", "appArmorProfile") and isinstance(value, dict):
        return "securityContext" if value.get("type") != "RuntimeDefault" else None
    if isinstance(key, str) and key.startswith(PROFILE_ANNOTATIONS):
        return "securityContext" if value not in CONFINED_ANNOTATION_VALUES else None
    if key in ("seLinuxOptions", "procMount", "sysctls"):
        return "securityContext"
    if key == "hostProcess" and value is True:
        return "securityContext"
    return None


def _repeats(key: str, value: Any) -> str | None:
    # Only well-typed values: a wrong type is the schema check's to name.
    if key in ("backoffLimit", "backoffLimitPerIndex", "maxRestarts", "maxRetry"):
        return "repeats" if _is_int(value) and value > 0 else None
    if key in ("completions", "parallelism"):
        return "repeats" if _is_int(value) and value > 1 else None
    if key == "restartPolicy":
        return "repeats" if isinstance(value, str) and value != "Never" else None
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Keys whose value a `{{variable}}` must not set freely (see sandbox_values).
SANDBOX_KEYS = frozenset(
    {"hostPath", "hostNetwork", "hostPID", "hostIPC", "hostPort", "privileged"}
    | {"allowPrivilegeEscalation", "capabilities", "serviceAccountName", "serviceAccount"}
    | {"securityContext", "namespace", "volumes", "secretKeyRef", "secretRef", "nodeName"}
    | {"automountServiceAccountToken", "priorityClassName", "apiVersion", "kind"}
    | {"shareProcessNamespace", "mountPropagation", "runtimeClassName", "maxRestarts"}
    | {"backoffLimit", "backoffLimitPerIndex", "completions", "parallelism", "restartPolicy"}
)


def _at(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def sandbox_values(node: Any, path: str = "") -> dict[str, Any]:
    """The values under every key that can reach out of the sandbox, whatever they are now:
    a `{{variable}}` there would let a launch choose."""
    found: dict[str, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if key in SANDBOX_KEYS or str(key).startswith(PROFILE_ANNOTATIONS):
                found[where] = value
            else:
                found.update(sandbox_values(value, where))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.update(sandbox_values(value, f"{path}[{index}]"))
    return found


def hardening(manifest: Any) -> dict[str, Any]:
    """Every setting under a securityContext, and automountServiceAccountToken: {path: value}.
    A list of plain values (capabilities.drop) is one setting. What a queue sets there is its
    hardening, which a launch must not drop."""
    return {
        where: value
        for where, value in _settings(manifest)
        if ".securityContext." in f".{where}" or where.endswith("automountServiceAccountToken")
    }


def _settings(node: Any, path: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _settings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list) and any(isinstance(item, dict | list) for item in node):
        for index, value in enumerate(node):
            yield from _settings(value, f"{path}[{index}]")
    else:
        yield path, node


def _keeps(value: Any, queue_value: Any) -> bool:
    """Whether a launch's setting is the queue's, or stricter for a list (drop: [NET_RAW, ALL]
    keeps the queue's drop: [ALL])."""
    if isinstance(queue_value, list):
        return isinstance(value, list) and all(item in value for item in queue_value)
    return value == queue_value


CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _container_lists(node: Any) -> dict[str, int]:
    """{path: length} of every list of containers in a manifest (a pod template, or several)."""
    return {
        where: len(value)
        for where, key, value in _entries(node)
        if key in CONTAINER_LISTS and isinstance(value, list)
    }


def check_override(queue_manifest: dict, launch_manifest: dict, target: dict) -> None:
    """Refuse escapes a launch adds that the queue's manifest doesn't already have at the same
    place (a relaunch repeats the queue's own settings) and its target doesn't allow, and a
    launch that drops or changes the queue's own hardening."""
    for path in FIXED_BY_QUEUE:
        launch_value, queue_value = _at(launch_manifest, path), _at(queue_manifest, path)
        if launch_value is not None and launch_value != queue_value:
            raise BadInput(
                "resource_args." + ".".join(path),
                "only the queue's own config says what kind of object is created, and where",
            )
    granted = set(target.get("allow") or [])
    queue_settings = sensitive_settings(queue_manifest)
    for where, (name, value) in sensitive_settings(launch_manifest).items():
        if name in granted or _within_queue(queue_settings.get(where), name, value):
            continue
        raise BadInput(
            f"resource_args.{where}",
            f"{name} is refused in a launch; only the queue's own config can grant it"
            f" (target.allow: [{name}])",
        )
    if "securityContext" not in granted:
        _check_hardening_kept(queue_manifest, deep_merge(queue_manifest, launch_manifest))


def _within_queue(queued: tuple[str, Any] | None, name: str, value: Any) -> bool:
    """Whether a launch's setting is the queue's own at that place (a relaunch repeats them),
    or a count of repeats lower than the queue's: a ceiling a launch may lower."""
    if queued == (name, value):
        return True
    return (
        queued is not None
        and name == queued[0] == "repeats"
        and _is_int(value)
        and _is_int(queued[1])
        and value <= queued[1]
    )


def _check_hardening_kept(queue_manifest: dict, merged: dict) -> None:
    # Lists are replaced whole by a launch (a `containers:` of its own replaces the queue's),
    # so a launch could drop the queue's securityContext without setting anything refused.
    queue_hardening = hardening(queue_manifest)
    kept = hardening(merged)
    for where, value in queue_hardening.items():
        if not _keeps(kept.get(where, _MISSING), value):
            raise BadInput(
                f"resource_args.{where}",
                f"the queue sets {json.dumps(value)} here; a launch may not drop or change it"
                " (target.allow: [securityContext])",
            )
    # A container the queue's template doesn't have would run without the hardening the
    # queue gives each of its own.
    if any("ontainers[" in where for where in queue_hardening):
        queue_lists = _container_lists(queue_manifest)
        for where, length in _container_lists(merged).items():
            if length > queue_lists.get(where, 0):
                raise BadInput(
                    f"resource_args.{where}[{queue_lists.get(where, 0)}]",
                    "a launch may not add a container: the queue's template hardens each of"
                    " its own (target.allow: [securityContext])",
                )


# The keys a queue config's target: block takes, and their help (read by the CLI and the
# queue editor).
# Each block names the model that checks it: its fields are the keys and their docstrings the
# help, read from this file's source without importing it (runners.registry.declared_keys).
CONFIG_MODELS = {"target": "KubernetesTarget"}

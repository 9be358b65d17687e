"""The CustomJob a vertex run sends: the queue's worker pools with the run's image, command,
args and env, its output folder, its scheduling, and launchbay's labels."""

import datetime
import json
import re

from runners.targets.remote import put_command

LABEL_RUN_ID = "launchbay-run-id"
LABEL_QUEUE = "launchbay-queue"
# `run` keys that aiplatform's CustomJob.submit puts in the CustomJob's spec as they are …
RUN_TO_JOB_SPEC = ("service_account", "network", "enable_web_access", "tensorboard")
# … and those it puts in spec.scheduling. (experiment, experiment_run and sync are the SDK's
# own client-side steps: nothing of them reaches the CustomJob.)
RUN_TO_SCHEDULING = ("timeout", "restart_job_on_worker_restart")


def custom_job(spec: dict, image: str) -> dict:
    """The CustomJob for a run, as a plain dict (the proto-plus type takes it as it is)."""
    args = spec["resource_args"]
    job_spec, run = args["spec"], args.get("run") or {}
    pools = json.loads(json.dumps(job_spec["worker_pool_specs"]))  # a deep copy
    ours = {k: v for k, v in (spec.get("env") or {}).items() if k != "LAUNCHBAY_CONFIG_FILE"}
    for index, pool in enumerate(pools):
        container = pool.setdefault("container_spec", {})
        # A later pool with no image of its own, or the job's (`${image_uri}`), runs the job
        # too, as the workers of a distributed run do (Vertex would refuse a pool without an
        # image); one with another image (a parameter server, a reduction server) is left as
        # the queue wrote it.
        if index == 0 or container.get("image_uri") in (None, "", image):
            container["image_uri"] = image
            put_command(container, spec)
        env = [e for e in container.get("env") or [] if e.get("name") not in ours]
        container["env"] = env + [{"name": k, "value": v} for k, v in ours.items()]
    output = output_dir(spec)
    body_spec = {
        "worker_pool_specs": pools,
        "base_output_directory": {"output_uri_prefix": output},
        **{key: run[key] for key in RUN_TO_JOB_SPEC if run.get(key) is not None},
    }
    scheduling = {
        **{key: run[key] for key in RUN_TO_SCHEDULING if run.get(key) is not None},
        **{k: v for k, v in (job_spec.get("scheduling") or {}).items() if v is not None},
    }
    if scheduling:
        body_spec["scheduling"] = scheduling
    labels = {
        **job_spec.get("labels", {}),
        LABEL_RUN_ID: spec["run_id"],
        LABEL_QUEUE: _label_value(spec["queue"]),
    }
    body = {
        "display_name": f"launchbay-{spec['job']['name']}-{spec['run_id']}"[:128],
        "labels": labels,
        "job_spec": body_spec,
    }
    if job_spec.get("encryption_spec_key_name"):
        body["encryption_spec"] = {"kms_key_name": job_spec["encryption_spec_key_name"]}
    return body


def proto_values(body: dict) -> dict:
    """The dict form of a CustomJob as proto-plus takes it: durations ("3600s") as timedelta."""
    scheduling = body["job_spec"].get("scheduling") or {}
    for key in ("timeout", "max_wait_duration"):
        if isinstance(scheduling.get(key), str | int):
            seconds = float(str(scheduling[key]).removesuffix("s"))
            scheduling[key] = datetime.timedelta(seconds=seconds)
    return body


def _label_value(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower())[:63]


def output_dir(spec: dict) -> str:
    """Where the job writes (its base_output_directory): the queue's base_output_dir, else the
    run's own folder in the staging bucket."""
    job_spec = (spec.get("resource_args") or {}).get("spec") or {}
    return job_spec.get("base_output_dir") or (
        f"{str(job_spec.get('staging_bucket', '')).rstrip('/')}/launchbay/{spec.get('run_id')}"
    )

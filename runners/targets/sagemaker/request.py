"""The CreateTrainingJob request of a sagemaker run, checked against botocore's model of the API.

resource_args hold CreateTrainingJob fields, CamelCase as the API spells them or snake_case as
Python users type them (`role_arn`, `resource_config.volume_size_in_gb`); they are normalised to
the API's names with botocore's own service model, so an unknown field is named with what was
expected, and a value of the wrong type is refused before anything is sent.
"""

import json
import re
from typing import Any

from runners.launch.rendering import config_env, deep_merge
from runners.launch.validation import stringify_env
from runners.targets.remote import put_command
from runners.targets.sagemaker import sdk
from store import BadInput

# Maps whose keys are the user's own (env names, hyper-parameter names), never renamed.
USER_MAPS = ("Environment", "HyperParameters")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ENV_VALUE_LIMIT = 512  # SageMaker's cap on one Environment value
ENV_ENTRIES_LIMIT = 100
JOB_NAME_LIMIT = 63
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # the API's pattern
CONFIG_CHANNEL = "launchbay-config"
CONFIG_FILE = f"/opt/ml/input/data/{CONFIG_CHANNEL}/config.json"
MAX_CONFIG_CHUNKS = 16  # more than this many 512-character env values: read it from S3 instead
TAG_RUN_ID = "launchbay:run-id"
TAG_QUEUE = "launchbay:queue"


def _operation_shape():
    session = sdk.botocore_session.get_session()
    return session.get_service_model("sagemaker").operation_model("CreateTrainingJob").input_shape


def normalize(resource_args: dict) -> dict:
    """resource_args with every field under its API name; unknown fields refused."""
    return _normalize(resource_args or {}, _operation_shape(), "resource_args")


def _normalize(value: Any, shape, path: str) -> Any:
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            raise BadInput(path, f"expected a mapping with {', '.join(shape.members)}")
        by_snake = {sdk.botocore.xform_name(name): name for name in shape.members}
        normalized = {}
        for key, item in value.items():
            name = key if key in shape.members else by_snake.get(str(key))
            if name is None:
                expected = ", ".join(shape.members)
                raise BadInput(f"{path}.{key}", f"unknown field; expected one of {expected}")
            if name in normalized:
                raise BadInput(f"{path}.{name}", f"given twice (as {key} too); expected it once")
            member = shape.members[name]
            if name in USER_MAPS:  # YAML gives `EPOCHS: 4` as a number; SageMaker wants text
                normalized[name] = stringify_env(item)
            else:
                normalized[name] = _normalize(item, member, f"{path}.{name}")
        return normalized
    if shape.type_name == "list" and isinstance(value, list):
        return [_normalize(item, shape.member, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def check_required(request: dict) -> None:
    """The fields a training job can't go without, each named when missing or malformed."""
    name = request.get("TrainingJobName")
    if name is not None and "${" not in str(name) and not JOB_NAME.fullmatch(str(name)):
        raise BadInput(
            "resource_args.TrainingJobName",
            f"{name!r}; expected 1 to 63 letters, digits and inner dashes (a macro such as"
            " ${run_id} keeps each run's unique)",
        )
    role = request.get("RoleArn")
    if not isinstance(role, str) or not (ROLE_ARN.fullmatch(role) or ROLE_NAME.fullmatch(role)):
        raise BadInput(
            "resource_args.RoleArn",
            f"{'missing' if role is None else repr(role)}; expected an IAM role ARN"
            " (arn:aws:iam::123456789012:role/NAME) or a role name of the configured account",
        )
    output = request.get("OutputDataConfig") or {}
    if not str(output.get("S3OutputPath", "")).startswith("s3://"):
        raise BadInput(
            "resource_args.OutputDataConfig.S3OutputPath",
            f"{output.get('S3OutputPath', 'missing')!r}; expected s3://BUCKET/PREFIX",
        )
    resources = request.get("ResourceConfig") or {}
    if not resources.get("InstanceGroups"):
        for name, expected in (
            ("InstanceType", "an instance type such as ml.m5.xlarge"),
            ("InstanceCount", "a number of instances, 1 or more"),
            ("VolumeSizeInGB", "a volume size in GB, 1 or more"),
        ):
            if resources.get(name) is None:
                raise BadInput(
                    f"resource_args.ResourceConfig.{name}", f"missing; expected {expected}"
                )
    environment = request.get("Environment") or {}
    if not isinstance(environment, dict):
        raise BadInput("resource_args.Environment", "expected a mapping of names to values")
    if len(environment) > ENV_ENTRIES_LIMIT - 20:  # launchbay adds its own (up to ~20)
        raise BadInput(
            "resource_args.Environment",
            f"{len(environment)} entries; SageMaker takes {ENV_ENTRIES_LIMIT} in all, and"
            " launchbay needs about 20 of them: expected at most 80",
        )
    for name, value in environment.items():
        if not isinstance(value, str) or len(value) > ENV_VALUE_LIMIT:
            raise BadInput(
                f"resource_args.Environment.{name}",
                f"expected text of at most {ENV_VALUE_LIMIT} characters (SageMaker's limit)",
            )
    stopping = request.get("StoppingCondition") or {}
    if stopping.get("MaxRuntimeInSeconds") is None:
        raise BadInput(
            "resource_args.StoppingCondition.MaxRuntimeInSeconds",
            "missing; expected the longest the job may run, in seconds (e.g. 86400)",
        )
    if request.get("EnableManagedSpotTraining") is True:
        _check_spot_wait(stopping)


def _check_spot_wait(stopping: dict) -> None:
    """Managed spot training needs MaxWaitTimeInSeconds (training plus waiting for spot
    capacity), at least MaxRuntimeInSeconds: AWS refuses the job otherwise, so a launch does."""
    wait, runtime = stopping.get("MaxWaitTimeInSeconds"), stopping["MaxRuntimeInSeconds"]
    field = "resource_args.StoppingCondition.MaxWaitTimeInSeconds"
    if wait is None:
        raise BadInput(
            field,
            "missing; managed spot training (EnableManagedSpotTraining) needs the longest the"
            " job may run and wait for spot capacity, in seconds, at least MaxRuntimeInSeconds"
            f" ({runtime})",
        )
    numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in (wait, runtime))
    if numbers and wait < runtime:
        raise BadInput(
            field, f"{wait} is less than MaxRuntimeInSeconds ({runtime}); expected at least that"
        )


def validate(request: dict) -> None:
    """botocore's own check of types, ranges and patterns; the first problem, as BadInput."""
    report = sdk.botocore_validate.ParamValidator().validate(request, _operation_shape())
    if report.has_errors():
        lines = [line.strip() for line in report.generate_report().splitlines()]
        problem = next(line for line in lines if line and not line.endswith("failed:"))
        field = re.search(r"parameter (?:input, )?([\w.\[\]]+)", problem)
        name = f"resource_args.{field.group(1)}" if field else "resource_args"
        raise BadInput(name, problem)


def job_name_for(spec: dict) -> str:
    """The training job's name: the config's TrainingJobName (macros filled in), as W&B
    honours it, else launchbay's own (see training_job_name)."""
    given = spec["resource_args"].get("TrainingJobName")
    return given or training_job_name(spec["job"]["name"], spec["run_id"])


def given_image(spec: dict) -> str | None:
    """The config's AlgorithmSpecification.TrainingImage: the run's image instead of the job's
    (nothing is built), as W&B honours it. `${image_uri}` is the job's own (empty for a job
    still to be built)."""
    algorithm = spec["resource_args"].get("AlgorithmSpecification") or {}
    return algorithm.get("TrainingImage") or None


def training_job_name(job_name: str, run_id: str) -> str:
    """`launchbay-<job>-<run id>`, fitted to ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", job_name).strip("-") or "job"
    room = JOB_NAME_LIMIT - len("launchbay--") - len(run_id)
    return f"launchbay-{stem[:room].strip('-')}-{run_id}"


def role_arn(role: str, account: str | None, partition: str = "aws") -> str:
    """A bare role name as the ARN of `account` (in its partition: aws, aws-cn, aws-us-gov)."""
    if ROLE_ARN.fullmatch(role) or account is None:
        return role
    return f"arn:{partition}:iam::{account}:role/{role}"


def config_uri(spec: dict) -> str:
    """Where the run's config is put in S3: beside the job's output."""
    output = spec["resource_args"]["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    return f"{output}/launchbay/{spec['run_id']}/config.json"


def training_request(spec: dict, name: str, image: str, config_uri: str) -> tuple[dict, dict]:
    """(CreateTrainingJob request, the environment) for a run's spec."""
    args = spec["resource_args"]
    algorithm = deep_merge(args.get("AlgorithmSpecification") or {}, {"TrainingImage": image})
    algorithm["TrainingImage"] = given_image(spec) or image
    algorithm.setdefault("TrainingInputMode", "File")
    put_command(algorithm, spec, command="ContainerEntrypoint", args="ContainerArguments")
    env = _environment(spec, args.get("Environment") or {}, config_uri)
    channel = {
        "ChannelName": CONFIG_CHANNEL,
        "InputMode": "File",  # the config as a file, whatever the job's own input mode
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": config_uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }
    inputs = [
        c for c in args.get("InputDataConfig") or [] if c.get("ChannelName") != CONFIG_CHANNEL
    ]
    tags = [t for t in args.get("Tags") or [] if t.get("Key") not in (TAG_RUN_ID, TAG_QUEUE)]
    request = {
        **args,
        "TrainingJobName": name,
        "AlgorithmSpecification": algorithm,
        "Environment": env,
        "InputDataConfig": [*inputs, channel],
        "Tags": [
            *tags,
            {"Key": TAG_RUN_ID, "Value": spec["run_id"]},
            {"Key": TAG_QUEUE, "Value": spec["queue"]},
        ],
    }
    return request, env


def _environment(spec: dict, own: dict, config_uri: str) -> dict:
    """The job's Environment: the queue's and launch's, then launchbay's. SageMaker caps each
    value at 512 characters: the run config goes in chunks, or when too long for that, only as
    the S3 object (its URI in LAUNCHBAY_CONFIG_URI, and as the file LAUNCHBAY_CONFIG_FILE)."""
    ours = {
        k: v for k, v in (spec.get("env") or {}).items() if not k.startswith("LAUNCHBAY_CONFIG")
    }
    chunks = config_env(json.dumps(spec["run_config"], sort_keys=True), ENV_VALUE_LIMIT)
    pieces = len(chunks) - ("LAUNCHBAY_CONFIG_CHUNKS" in chunks)
    config = chunks if pieces <= MAX_CONFIG_CHUNKS else {}
    return {
        **own,
        **ours,
        **config,
        "LAUNCHBAY_CONFIG_URI": config_uri,
        "LAUNCHBAY_CONFIG_FILE": CONFIG_FILE,
    }


def sample_request(normalized: dict) -> dict:
    """A request as a run would send it, for botocore's validator (the runner's own fields in)."""
    spec = {
        "resource_args": normalized,
        "run_id": "dryrun00",
        "queue": "queue",
        "entry_point": None,
        "args": [],
        "env": {},
        "run_config": {},
    }
    request, _ = training_request(spec, "launchbay-sample-dryrun00", "image:latest", "s3://b/k")
    # A bare role name becomes an ARN at submit, once the account is known.
    request["RoleArn"] = role_arn(request["RoleArn"], "123456789012")
    return request


def instance_count(args: dict) -> int:
    """How many instances the job runs on (its log lines are prefixed when more than one)."""
    resources = args.get("ResourceConfig") or {}
    groups = resources.get("InstanceGroups") or []
    return sum(g.get("InstanceCount", 1) for g in groups) or resources.get("InstanceCount", 1)

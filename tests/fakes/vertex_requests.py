"""What the fake Vertex JobService (tests/fakes/vertex.py) checks in a request, as the real one
does where a launcher can get it wrong, and the list filters it understands."""

import re
from collections.abc import Callable

import grpc
from google.cloud.aiplatform_v1 import types

State = types.JobState

PARENT = re.compile(r"projects/[^/]+/locations/[^/]+")
# Google Cloud label rules (Vertex adds international letters, which launchbay never sends).
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
# One term of a list filter: `labels.team="nlp"`, `labels.team=nlp`, `labels.team:*`,
# `display_name="x"`, `state=JOB_STATE_RUNNING`; terms are joined with " AND ".
FILTER_TERM = re.compile(r'\s*(labels\.[^=:\s]+|display_name|state)\s*([=:])\s*("[^"]*"|\S+)\s*')


class Refused(Exception):
    """A request the service answers with an error status instead of a response."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def validate(request: types.CreateCustomJobRequest) -> None:
    """The checks the real CreateCustomJob makes that a launcher can get wrong."""

    def refuse(message: str):
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, message)

    if not PARENT.fullmatch(request.parent):
        refuse(f"parent must look like projects/PROJECT/locations/LOCATION: {request.parent!r}")
    job = request.custom_job
    if not job.display_name:
        refuse("custom_job.display_name must be specified.")
    pools = job.job_spec.worker_pool_specs
    if not pools:
        refuse("custom_job.job_spec.worker_pool_specs must be specified.")
    first = pools[0]
    if not (first.container_spec.image_uri or first.python_package_spec.executor_image_uri):
        refuse(
            "custom_job.job_spec.worker_pool_specs[0].container_spec.image_uri must be specified."
        )
    if not first.machine_spec.machine_type:
        refuse(
            "custom_job.job_spec.worker_pool_specs[0].machine_spec.machine_type must be specified."
        )
    for key, value in job.labels.items():
        if not LABEL_KEY.fullmatch(key) or not LABEL_VALUE.fullmatch(value):
            refuse(
                f"Invalid label {key}={value!r}: keys and values may hold only lowercase "
                "letters, digits, '_' and '-', at most 63 characters; a key starts with a letter."
            )


def parse_filter(text: str) -> list[Callable[[types.CustomJob], bool]]:
    """The AND-joined equality terms of Vertex's list filter that launchbay uses."""
    tests: list[Callable[[types.CustomJob], bool]] = []
    for term in filter(None, text.split(" AND ")):
        match = FILTER_TERM.fullmatch(term)
        if match is None:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Unsupported filter term {term!r}: the fake knows labels.KEY=VALUE, "
                'labels.KEY:*, display_name="X" and state=STATE, joined with " AND ".',
            )
        field, op, value = match.groups()
        value = value.removeprefix('"').removesuffix('"')
        if field.startswith("labels."):
            key = field.removeprefix("labels.")
            if op == ":" and value == "*":
                tests.append(lambda job, key=key: key in job.labels)
            else:
                tests.append(lambda job, key=key, value=value: job.labels.get(key) == value)
        elif field == "display_name" and op == "=":
            tests.append(lambda job, value=value: job.display_name == value)
        elif field == "state" and op == "=" and value in State.__members__:
            tests.append(lambda job, state=State[value]: job.state == state)
        else:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"Unsupported filter term {term!r}.")
    return tests

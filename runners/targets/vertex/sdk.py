"""The Google SDKs of the vertex target (google-cloud-aiplatform, google-auth, and
google-cloud-logging when installed), loaded on first use; the JobServiceClient of a queue's
target, the credentials, and the retry policy every call uses.

aiplatform takes seconds to import: the checks and the dry run never touch these modules.
"""

import importlib.util

from runners.protocol import RunnerError
from runners.targets.lazy import LazyModule
from store import Stage

aiplatform = LazyModule("google.cloud.aiplatform_v1")
aiplatform_types = LazyModule("google.cloud.aiplatform_v1.types")
api_exceptions = LazyModule("google.api_core.exceptions")
api_retry = LazyModule("google.api_core.retry")
auth = LazyModule("google.auth")
auth_credentials = LazyModule("google.auth.credentials")
auth_exceptions = LazyModule("google.auth.exceptions")
logging_service = LazyModule("google.cloud.logging_v2.services.logging_service_v2")
logging_types = LazyModule("google.cloud.logging_v2.types")
storage = LazyModule("google.cloud.storage")
timestamp_pb2 = LazyModule("google.protobuf.timestamp_pb2")


def logging_client_installed() -> bool:
    """Whether google-cloud-logging can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec("google.cloud.logging_v2") is not None
    except ModuleNotFoundError:  # no google.cloud at all
        return False


def credentials(choice: str):
    """Application Default Credentials, or none for `anonymous` (test servers). Raises
    google.auth's DefaultCredentialsError when there are none."""
    if choice == "anonymous":
        return auth_credentials.AnonymousCredentials()
    return auth.default()[0]


def retry(seconds: float, *also: type[Exception]):
    """UNAVAILABLE (and the errors in `also`) retried with backoff for up to `seconds`: the
    generated clients retry nothing by themselves."""
    return api_retry.Retry(
        initial=0.2,
        maximum=5.0,
        multiplier=2.0,
        timeout=seconds,
        predicate=api_retry.if_exception_type(api_exceptions.ServiceUnavailable, *also),
    )


def connect(endpoint: str, choice: str, stage: Stage):
    """A JobServiceClient for `endpoint` with the credentials `choice` names."""
    try:
        creds = credentials(choice)
    except auth_exceptions.DefaultCredentialsError as exc:
        raise RunnerError(
            stage,
            f"no Google credentials ({exc}); run `gcloud auth application-default login` or set"
            " GOOGLE_APPLICATION_CREDENTIALS",
        ) from None
    return aiplatform.JobServiceClient(credentials=creds, client_options={"api_endpoint": endpoint})


def storage_client(target: dict, project: str):
    """A Cloud Storage client with the target's credentials, at its storage_endpoint if set.
    Raises google.auth's DefaultCredentialsError when there are no credentials."""
    options = {"api_endpoint": target["storage_endpoint"]} if target.get("storage_endpoint") else {}
    creds = credentials(target.get("credentials", "default"))
    return storage.Client(project=project, credentials=creds, client_options=options)


def describe(exc) -> str:
    """An API error as `Kind: message`."""
    return f"{type(exc).__name__}: {exc.message}" if getattr(exc, "message", None) else str(exc)

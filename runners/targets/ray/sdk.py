"""Ray's Jobs API client (ray.job_submission, from `ray[default]`), loaded on first use, and the
client of a ray queue's target.

`import ray` costs about half a second and the extra is large: launch checks, dry runs and the
CLI never touch these modules; only the agent's run threads do.
"""

from runners.targets.lazy import LazyModule

job_submission = LazyModule("ray.job_submission")
requests_errors = LazyModule("requests.exceptions")
aiohttp = LazyModule("aiohttp")

NOT_FOUND = "Request failed with status code 404"  # how Ray's client words an HTTP 404


def connect(address: str, timeout: float):
    """A JobSubmissionClient for `address` whose every call gives up after `timeout` seconds
    without an answer: Ray's client passes no timeout to requests, so a head that stops
    answering would hang the run thread forever. Raises ConnectionError when nothing answers."""

    class Client(job_submission.JobSubmissionClient):
        def _do_request(self, method, endpoint, **kwargs):
            kwargs.setdefault("timeout", timeout)
            return super()._do_request(method, endpoint, **kwargs)

    return Client(address)


def unreachable_errors() -> tuple[type[BaseException], ...]:
    """What Ray's client raises when the head does not answer (refused, reset, timed out)."""
    return (ConnectionError, requests_errors.RequestException)


def log_tail_errors() -> tuple[type[BaseException], ...]:
    """What following a job's log tail raises when the head goes away mid-stream (Ray's client
    raises RuntimeError on an abnormal close)."""
    return (*unreachable_errors(), aiohttp.ClientError, RuntimeError, TimeoutError)


def not_found(exc: BaseException) -> bool:
    """Whether Ray's answer says there is no such job."""
    return isinstance(exc, RuntimeError) and str(exc).startswith(NOT_FOUND)


def describe(exc: BaseException) -> str:
    """An error of Ray's client in one line (its server errors carry a whole traceback)."""
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip(". ")]
    if not lines:
        return type(exc).__name__
    if len(lines) > 1 and lines[0].startswith("Request failed"):
        # "Request failed with status code 500: Traceback …" then the error on the last line
        return f"{lines[0].split(':', 1)[0]}: {lines[-1].rstrip('.')}"
    return lines[0]

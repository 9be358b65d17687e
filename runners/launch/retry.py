"""The retry policy of a queue or a launch: `retry: {on: [failed, crashed], max: 3,
backoff_seconds: 30}`. A run that ends in one of `on` is launched again, as a new item linked
to the first (its attempt number in `LAUNCHBAY_ATTEMPT`), at most `max` times, each after
`backoff_seconds`."""

import math
from typing import Any

from runners.launch.documents import expect_mapping, refuse_unknown_keys
from store import BadInput

RETRY_KEYS = ("on", "max", "backoff_seconds")
#: the run states a retry may follow (a stop was asked for; a preemption has max_resumes)
RETRYABLE_STATES = ("failed", "crashed")
MAX_RETRIES_LIMIT = 100
MAX_BACKOFF_SECONDS = 7 * 24 * 3600.0
DEFAULT_RETRY = {"on": list(RETRYABLE_STATES), "max": 3, "backoff_seconds": 30.0}


def check_retry(value: Any, field: str = "retry") -> dict | None:
    """The policy checked and completed with its defaults; None when `value` is None."""
    if value is None:
        return None
    value = expect_mapping(value, field)
    refuse_unknown_keys(value, RETRY_KEYS, field)
    policy = dict(DEFAULT_RETRY)
    if "on" in value:
        on = value["on"]
        if isinstance(on, str):
            on = [on]
        if (
            not isinstance(on, list)
            or not on
            or not all(isinstance(s, str) and s in RETRYABLE_STATES for s in on)
        ):
            raise BadInput(f"{field}.on", f"{value['on']!r}; expected a list of failed, crashed")
        policy["on"] = sorted(set(on), key=on.index)
    if "max" in value:
        count = value["max"]
        if (
            isinstance(count, bool)
            or not isinstance(count, int)
            or not 0 <= count <= MAX_RETRIES_LIMIT
        ):
            raise BadInput(
                f"{field}.max",
                f"{count!r}; expected a whole number of retries from 0 to {MAX_RETRIES_LIMIT}",
            )
        policy["max"] = count
    if "backoff_seconds" in value:
        backoff = value["backoff_seconds"]
        if (
            isinstance(backoff, bool)
            or not isinstance(backoff, int | float)
            or not math.isfinite(backoff)
            or not 0 <= backoff <= MAX_BACKOFF_SECONDS
        ):
            raise BadInput(
                f"{field}.backoff_seconds",
                f"{backoff!r}; expected seconds from 0 to {int(MAX_BACKOFF_SECONDS)}",
            )
        policy["backoff_seconds"] = float(backoff)
    return policy


def attempt_text(spec: dict) -> str | None:
    """`2 of 4` for a run under a retry policy (its rendered spec), else None."""
    if "attempt" not in spec:
        return None
    return f"{spec['attempt']} of {spec['retry']['max'] + 1}"


def policy_text(policy: dict) -> str:
    """A policy in one line: `on failed, crashed · max 3 · backoff 30s` (`max 0`: off)."""
    if policy["max"] == 0:
        return "max 0 (no retries, whatever the queue says)"
    on = ", ".join(policy["on"])
    return f"on {on} · max {policy['max']} · backoff {policy['backoff_seconds']:g}s"

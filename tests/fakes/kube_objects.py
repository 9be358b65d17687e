"""What the fake Kubernetes API shares: Status errors, timestamps, selectors, names, quantities.

The shapes follow the real API server's, because the official client (37) deserializes every
response into strict pydantic models: a missing required field or a wrong type breaks it.
"""

import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime

# The reason the API server gives for each HTTP code it answers an error with.
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class KubeError(Exception):
    """An error the fake answers with, as a Status object under HTTP status `code`."""

    def __init__(self, code: int, message: str, *, reason: str = "", details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> dict:
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status


def not_found(resource: str, group: str, name: str) -> KubeError:
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "kind": resource, **({"group": group} if group else {})}
    return KubeError(404, f'{qualified} "{name}" not found', details=details)


def now() -> str:
    """metav1.Time: RFC 3339 with whole seconds, as every timestamp the API returns."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def docker_time(value: str) -> str:
    """Docker's nanosecond timestamps cut down to metav1.Time."""
    return value[:19] + "Z" if value and not value.startswith("0001") else now()


def parse_time(value: str) -> float:
    """RFC 3339 (with or without fractions) to epoch seconds; ValueError if malformed."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def random_suffix(length: int = 5) -> str:
    # The generated-name alphabet of the API server: no vowels, no look-alikes.
    return "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(length))


def new_uid() -> str:
    hexes = "".join(secrets.choice(string.hexdigits.lower()) for _ in range(32))
    return f"{hexes[:8]}-{hexes[8:12]}-{hexes[12:16]}-{hexes[16:20]}-{hexes[20:]}"


# ---- selectors ------------------------------------------------------------------------------

_SET_REQUIREMENT = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*(!?)([\w./-]+)\s*(?:(==|=|!=)\s*([\w./-]*))?\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return value in self.values
        return value not in self.values  # "!=", "notin": also true when the key is absent


def parse_label_selector(text: str | None) -> list[Requirement]:
    """`k=v,k2!=v,k3 in (a,b),!k4`; KubeError 400 on a malformed selector, as the server."""
    if not text:
        return []
    # Commas inside `in (a,b)` don't separate requirements.
    parts = re.split(r",(?![^()]*\))", text)
    requirements = []
    for part in parts:
        if match := _SET_REQUIREMENT.match(part):
            values = tuple(v.strip() for v in match[3].split(",") if v.strip())
            requirements.append(Requirement(match[1], match[2], values))
        elif match := _EQUALITY.match(part):
            negated, key, op, value = match.groups()
            if op is None:
                requirements.append(Requirement(key, "!exists" if negated else "exists"))
            elif negated:
                raise KubeError(400, f"unable to parse requirement: {part!r}")
            else:
                requirements.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
        else:
            raise KubeError(400, f"unable to parse requirement: found '{part}', expected: key")
    return requirements


def parse_field_selector(text: str | None) -> list[tuple[str, str, str]]:
    """`metadata.name=x,status.phase!=Running` as (path, op, value) triples."""
    if not text:
        return []
    triples = []
    for part in text.split(","):
        match = re.match(r"^\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not match:
            raise KubeError(400, f"invalid selector: '{text}'; can't understand '{part}'")
        triples.append((match[1], "!=" if match[2] == "!=" else "=", match[3]))
    return triples


def selector_matcher(label_selector: str | None, field_selector: str | None):
    """A predicate over objects for the list and watch parameters of a request."""
    labels_wanted = parse_label_selector(label_selector)
    fields_wanted = parse_field_selector(field_selector)

    def field(obj: dict, path: str) -> str:
        value = obj
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None else str(value)

    def matches(obj: dict) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        if not all(r.matches(labels) for r in labels_wanted):
            return False
        return all((field(obj, p) == v) == (op == "=") for p, op, v in fields_wanted)

    return matches


# ---- quantities -----------------------------------------------------------------------------

_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_MULTIPLIERS = {
    None: 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def parse_quantity(value: str | int | float) -> float:
    """A resource quantity ("64Mi", "1Gi", "500M", "2", "100m") as a number."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return float(match[1]) * _MULTIPLIERS[match[2]]


def set_condition(status: dict, type_: str, value: str, reason: str = "", message: str = ""):
    """Add or replace a condition; its transition time only moves when its status changes."""
    conditions = status.setdefault("conditions", [])
    old = next((c for c in conditions if c["type"] == type_), None)
    new = {"type": type_, "status": value, "lastProbeTime": None}
    new["lastTransitionTime"] = (
        old["lastTransitionTime"] if old and old["status"] == value else now()
    )
    new.update({"reason": reason} if reason else {}, **({"message": message} if message else {}))
    if old:
        conditions[conditions.index(old)] = new
    else:
        conditions.append(new)

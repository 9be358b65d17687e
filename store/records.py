"""Plain records read from the store, with their JSON forms for `--json` output."""

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .states import ItemState, Priority, RunState


def iso(ts: float | None) -> str | None:
    """A unix time as ISO 8601 UTC, for humans and JSON."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class JobVersion:
    id: int
    job_id: int
    name: str
    version: int
    type: str
    digest: str
    source: dict
    entrypoint: list[str] | None
    input_schema: dict | None
    description: str
    created_at: float
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}:v{self.version}"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "type": self.type,
            "digest": self.digest,
            "source": self.source,
            "entrypoint": self.entrypoint,
            "input_schema": self.input_schema,
            "description": self.description,
            "aliases": list(self.aliases),
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True)
class Queue:
    id: int
    name: str
    resource: str
    config: dict
    paused: bool
    max_concurrency: int | None
    created_at: float

    @property
    def resource_args(self) -> dict:
        return self.config.get("resource_args") or {}

    @property
    def template_variables(self) -> dict:
        return self.config.get("template_variables") or {}

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "resource": self.resource,
            "paused": self.paused,
            "max_concurrency": self.max_concurrency,
            "config": self.config,
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True)
class QueueItem:
    id: int
    queue_id: int
    queue: str
    job_version_id: int
    job: str
    priority: Priority
    state: ItemState
    launch_json: str  # decoded on first use: leasing and acking never need it
    lease_owner: str | None
    lease_expires_at: float | None
    run_id: str | None
    resume_count: int
    error_stage: str | None
    error_message: str | None
    created_at: float
    updated_at: float
    attempt: int = 1  # 1 for a launch, n for its (n-1)th retry
    retry_of: int | None = None  # the first attempt's item, on a retry or a resume
    not_before: float | None = None  # a retry waits out its backoff until then

    @functools.cached_property
    def launch(self) -> dict:
        """The validated launch request: run_config, args, entry_point, resource_args…"""
        return json.loads(self.launch_json)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "queue": self.queue,
            "job": self.job,
            "state": self.state.value,
            "priority": self.priority.label,
            "launch": self.launch,
            "run_id": self.run_id,
            "resume_count": self.resume_count,
            "attempt": self.attempt,
            "retry_of": self.retry_of,
            "not_before": iso(self.not_before),
            "error": _error(self.error_stage, self.error_message),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True)
class Run:
    id: str
    item_id: int
    job_version_id: int
    job: str
    queue_id: int
    queue: str
    resource: str
    spec: dict
    state: RunState
    agent_id: str | None
    handle: dict | None
    message: str | None
    exit_code: int | None
    error_stage: str | None
    error_message: str | None
    stop_requested_at: float | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    gpus: tuple[int, ...] = ()  # the indices of the GPUs the agent gave it (held or released)
    tags: tuple[str, ...] = ()  # sorted
    note: str | None = None

    @property
    def end_reason(self) -> str:
        """Why it ended, when it did not finish: "run: exited with code 3", "cancel requested
        by user"; "" while live or once finished."""
        if self.state in (RunState.FAILED, RunState.CRASHED):
            reason = self.error_message or self.message or ""
            return f"{self.error_stage}: {reason}" if self.error_stage else reason
        if self.state in (RunState.STOPPED, RunState.PREEMPTED):
            return self.message or ""
        return ""

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        if self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "item_id": self.item_id,
            "job": self.job,
            "queue": self.queue,
            "resource": self.resource,
            "state": self.state.value,
            "message": self.message,
            "exit_code": self.exit_code,
            "error": _error(self.error_stage, self.error_message),
            "agent_id": self.agent_id,
            "handle": self.handle,
            "gpus": list(self.gpus),
            "tags": list(self.tags),
            "note": self.note,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
        }


@dataclass(frozen=True)
class RunEvent:
    at: float
    from_state: str | None
    to_state: str
    message: str | None

    def to_json(self) -> dict:
        return {
            "at": iso(self.at),
            "from": self.from_state,
            "to": self.to_state,
            "message": self.message,
        }


def _error(stage: str | None, message: str | None) -> dict | None:
    if stage is None and message is None:
        return None
    return {"stage": stage, "message": message}

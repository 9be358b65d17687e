"""The state machines of queue items and runs, in one place."""

from enum import IntEnum, StrEnum


class Priority(IntEnum):
    """Dispatch priority: lower value goes first (W&B's numbering)."""

    CRITICAL = 0
    HIGH = 1
    MEDIUM = 2
    LOW = 3

    @classmethod
    def parse(cls, text: str) -> "Priority":
        return cls[text.upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


class ItemState(StrEnum):
    """pending → leased → claimed | failed | cancelled."""

    PENDING = "pending"
    LEASED = "leased"
    CLAIMED = "claimed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Stage(StrEnum):
    """Where a failure happened: before the runner (agent), building, or running."""

    AGENT = "agent"
    BUILD = "build"
    RUN = "run"


class RunState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"
    PREEMPTED = "preempted"
    CRASHED = "crashed"

    def is_terminal(self) -> bool:
        return self in TERMINAL_RUN_STATES

    def can_become(self, other: "RunState") -> bool:
        return other in _NEXT_STATES[self]


TERMINAL_RUN_STATES = frozenset(
    {RunState.FINISHED, RunState.FAILED, RunState.STOPPED, RunState.PREEMPTED, RunState.CRASHED}
)
LIVE_RUN_STATES = frozenset({RunState.STARTING, RunState.RUNNING, RunState.STOPPING})

# A run may skip states (a fast job can finish before "running" is seen), but never go back,
# and never leave a terminal state.
_NEXT_STATES: dict[RunState, frozenset[RunState]] = {
    RunState.STARTING: frozenset({RunState.RUNNING, RunState.STOPPING}) | TERMINAL_RUN_STATES,
    RunState.RUNNING: frozenset({RunState.STOPPING}) | TERMINAL_RUN_STATES,
    RunState.STOPPING: TERMINAL_RUN_STATES,
    **{state: frozenset() for state in TERMINAL_RUN_STATES},
}

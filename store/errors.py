"""Errors the store raises.

`BadInput` and its subclasses are errors a user can cause (an unknown name, a bad file): the
CLI turns them into one line and exit code 2. Everything else is a runtime failure (exit 1).
"""


class StoreError(Exception):
    """Base class of everything the store raises on purpose."""


class BadInput(StoreError):
    """Input a user can fix. `field` names what was wrong, the message says what was expected."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(BadInput):
    """A job, version, alias, queue, item or run that does not exist."""


class AlreadyExists(BadInput):
    """A name that is already taken."""


class DatabaseUnusable(BadInput):
    """The database file can't be used: a directory, not SQLite, read-only, or a newer schema."""


class IllegalTransition(StoreError):
    """A state change the state machine forbids (for example leaving a terminal state)."""

"""The `notify:` block, in a queue's config or the user's config file:

```yaml
notify:
  urls: ["json://hooks.example.com/launchbay", "ntfy://ml-runs"]
  on: [failed, crashed]
```

A queue's block applies to its runs in place of the config file's.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

NotifiedState = Literal["finished", "failed", "crashed", "stopped", "preempted"]
DEFAULT_STATES: tuple[NotifiedState, ...] = ("finished", "failed", "crashed", "preempted")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


class NotifySettings(BaseModel):
    """Where to say that a run ended, and on which endings."""

    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(min_length=1)
    """apprise URLs, e.g. json://host/path (a webhook), slack://…, discord://…, ntfy://topic,
    mailto://…; shown as `scheme://***` wherever launchbay shows a config."""
    on: list[NotifiedState] = Field(default_factory=lambda: list(DEFAULT_STATES))
    """The run states that send a notification (default: finished, failed, crashed,
    preempted; a stop you asked for says nothing unless `stopped` is listed)."""

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not _URL.fullmatch(url):
                raise ValueError(f"{url!r} is no URL; expected SCHEME://… (an apprise URL)")
        return urls


class NotifyFileSettings(BaseModel):
    """The config file's `notify:` key, read by the agent (the rest of the file is others')."""

    model_config = ConfigDict(extra="ignore")

    notify: NotifySettings | None = None
    """Notifications for runs of every queue whose config has no `notify:` of its own."""


def check_notify(value, field: str = "notify") -> dict | None:
    """A queue's `notify:` checked; None when absent."""
    from runners.launch.validation import check_model

    if value is None:
        return None
    if not isinstance(value, dict):
        from store import BadInput

        raise BadInput(field, f"{value!r}; expected a mapping with urls and on")
    return check_model(NotifySettings, value, field).model_dump()

"""The user's config file: `<user config dir>/launchbay/config.yaml`.

```yaml
theme: textual-dark          # any Textual theme (ctrl+p → "Change theme" lists them)
keys:                        # binding id → key(s); `?` in the app lists the ids
  app.quit: ctrl+q
  runs.cancel: ctrl+x
gpus: [0, 1]                 # the GPUs the agent hands out (runners/gpus/settings.py)
snapshot_warn_mb: 100        # `job create code` warns when a snapshot is bigger
terminal_notify: true        # a bell and a desktop notification (OSC 9/777) when a run ends
after_launch: run            # ctrl+s in the launch form goes to the new run (back: where it was)
notify:                      # the agent's notifications (runners/notify/settings.py)
  urls: ["json://hooks.example.com/launchbay"]
  on: [failed, crashed]
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field

from runners.gpus.settings import GpuSettings
from runners.notify.settings import NotifyFileSettings
from runners.system.config_file import CONFIG_ENV_VAR as CONFIG_ENV_VAR
from runners.system.config_file import config_path as config_path
from runners.system.config_file import read_config_document


class UserConfig(GpuSettings, NotifyFileSettings):
    """What a user may set: the app's theme and keys, and the agent's GPU and notification
    keys (checked here too, so that a typo in them is caught whichever reads the file first)."""

    model_config = ConfigDict(extra="forbid")

    theme: str | None = None
    """A Textual theme name, e.g. textual-dark, nord, gruvbox."""
    keys: dict[str, str] = Field(default_factory=dict)
    """Key rebindings: binding id → comma-separated keys."""
    snapshot_warn_mb: int = Field(default=100, ge=1)
    """`job create code` warns when the code's snapshot is bigger than this many MiB."""
    terminal_notify: bool = True
    """When a run ends: ring the terminal's bell and send a desktop notification (OSC 9 and
    OSC 777, passed through tmux), besides the app's toast. false turns both off."""
    after_launch: Literal["run", "back"] = "run"
    """Where ctrl+s in the launch form leads: `run`, the new run (what its item waits for,
    then its detail, then its log once it starts); `back`, where the form was opened from."""


def load_user_config(path: Path | None = None) -> UserConfig:
    """The config file's settings (defaults if there is none). Bad content is BadInput."""
    from runners.launch.validation import check_model

    return check_model(UserConfig, read_config_document(path), "config")

"""The user's config file: `<user config dir>/launchbay/config.yaml`.

```yaml
theme: textual-dark          # any Textual theme (ctrl+p → "Change theme" lists them)
keys:                        # binding id → key(s); `?` in the app lists the ids
  app.quit: ctrl+q
  runs.cancel: ctrl+x
```
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

CONFIG_ENV_VAR = "LAUNCHBAY_CONFIG_DIR"


class UserConfig(BaseModel):
    """What a user may set for the app."""

    model_config = ConfigDict(extra="forbid")

    theme: str | None = None
    """A Textual theme name, e.g. textual-dark, nord, gruvbox."""
    keys: dict[str, str] = Field(default_factory=dict)
    """Key rebindings: binding id → comma-separated keys."""


def config_path() -> Path:
    folder = os.environ.get(CONFIG_ENV_VAR)
    if folder:
        return Path(folder) / "config.yaml"
    import platformdirs

    return Path(platformdirs.user_config_dir("launchbay", appauthor=False)) / "config.yaml"


def load_user_config(path: Path | None = None) -> UserConfig:
    """The config file's settings (defaults if there is none). Bad content is BadInput."""
    from runners.launch.documents import load_document
    from runners.launch.validation import check_model

    path = path or config_path()
    if not path.is_file():
        return UserConfig()
    document = load_document(str(path), str(path)) or {}
    return check_model(UserConfig, document, "config")

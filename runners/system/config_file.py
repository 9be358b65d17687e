"""Where the user's config file is: `<user config dir>/launchbay/config.yaml`, or
`$LAUNCHBAY_CONFIG_DIR/config.yaml`. One file for the app's settings (theme, keys) and the
agent's (GPUs); each reads its own keys from it."""

import os
from pathlib import Path

CONFIG_ENV_VAR = "LAUNCHBAY_CONFIG_DIR"


def config_path() -> Path:
    folder = os.environ.get(CONFIG_ENV_VAR)
    if folder:
        return Path(folder) / "config.yaml"
    import platformdirs

    return Path(platformdirs.user_config_dir("launchbay", appauthor=False)) / "config.yaml"


def read_config_document(path: Path | None = None) -> dict:
    """The config file as a mapping ({} when there is none). Bad content is BadInput."""
    from runners.launch.documents import load_document

    path = path or config_path()
    if not path.is_file():
        return {}
    return load_document(str(path), str(path)) or {}

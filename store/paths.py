"""Where the database and its files live."""

import os
from pathlib import Path

DB_ENV_VAR = "LAUNCHBAY_DB"


def resolve_db_path(explicit: str | os.PathLike | None = None) -> Path:
    """`--db PATH`, else `$LAUNCHBAY_DB`, else `<user data dir>/launchbay.db`."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get(DB_ENV_VAR)
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs  # only needed for the default, and costs an import

    return Path(platformdirs.user_data_dir("launchbay", appauthor=False)) / "launchbay.db"


def files_dir_for(db_path: Path) -> Path:
    """The folder beside the database that holds artifacts and run logs."""
    return db_path.with_name(db_path.name + ".files")

"""Where the database and its files live."""

import os
from pathlib import Path

from .errors import BadInput

DB_ENV_VAR = "LAUNCHBAY_DB"


def resolve_db_path(explicit: str | os.PathLike | None = None) -> Path:
    """`--db PATH`, else `$LAUNCHBAY_DB`, else `<user data dir>/launchbay.db`; always absolute.

    Resolved once, here: every path derived from it (a run's config file and exit-status file,
    a container's volume binds) then means the same file whatever directory reads it."""
    if explicit is not None:
        return _absolute(explicit, "--db")
    from_env = os.environ.get(DB_ENV_VAR)
    if from_env is not None:
        return _absolute(from_env, DB_ENV_VAR)
    return default_db_path()


def default_db_path() -> Path:
    """`<user data dir>/launchbay.db`: the file used when neither --db nor $LAUNCHBAY_DB says."""
    import platformdirs  # only needed for the default, and costs an import

    return Path(platformdirs.user_data_dir("launchbay", appauthor=False)).absolute() / (
        "launchbay.db"
    )


def _absolute(given: str | os.PathLike, field: str) -> Path:
    text = os.fspath(given)
    if not text.strip():
        # An empty value is a mistake (an unset shell variable), not a request for the default.
        raise BadInput(field, "is empty; expected the path of a database file")
    if "\0" in text:
        raise BadInput(field, "contains a NUL byte; expected the path of a database file")
    return Path(os.path.abspath(Path(text).expanduser()))


def files_dir_for(db_path: Path) -> Path:
    """The folder beside the database that holds artifacts and run logs."""
    return db_path.with_name(db_path.name + ".files")


def make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) readable by its owner only, whatever the umask:
    mkdir's mode is masked by the umask, so the mode is set again after creation. A folder
    that already existed keeps the mode its owner gave it."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for folder in missing:
        os.chmod(folder, 0o700)

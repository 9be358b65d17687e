"""Creating jobs of the three kinds: image, code (a snapshot) and git (a pinned commit)."""

import hashlib
import re
import shlex
from pathlib import Path

from runners.catalog import gitsource
from runners.catalog.snapshots import SnapshotReport, pack_directory
from runners.launch.request import load_schema_file
from runners.launch.validation import check_process_strings
from store import BadInput, Store
from store.jobs import CreatedVersion, validate_alias, validate_name


def _entrypoint(text: str | None) -> list[str] | None:
    if text is None:
        return None
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise BadInput("--entrypoint", f"{text!r}: {exc}") from None
    if not argv:
        raise BadInput("--entrypoint", "is empty; expected a command such as 'python train.py'")
    check_process_strings(argv, "--entrypoint")
    return argv


def _build_source(kind: str, dockerfile: str | None, base_image: str | None) -> dict:
    """The job's own build settings, kept in its source (so they are part of its digest)."""
    settings = {}
    if dockerfile is not None:
        path = Path(dockerfile)
        if kind == "image" or not dockerfile or path.is_absolute() or ".." in path.parts:
            raise BadInput("--dockerfile", f"{dockerfile!r}; expected a relative path in the code")
        settings["dockerfile"] = dockerfile
    if base_image is not None:
        if kind == "image" or not base_image or any(c.isspace() for c in base_image):
            raise BadInput("--base-image", f"{base_image!r}; expected an image such as python:3.11")
        settings["base_image"] = base_image
    return settings


def _schema_file(schema_path: str, kind: str, target: str) -> str:
    """Where a relative --schema is: a code job's schema usually lives with its code, so the
    code directory is looked in first, then the working directory (as before)."""
    path = Path(schema_path).expanduser()
    if kind != "code" or path.is_absolute():
        return str(path)
    beside_code = Path(target).expanduser() / path
    if beside_code.is_file():
        return str(beside_code)
    if path.is_file():
        return str(path)
    raise BadInput(
        "--schema",
        f"{schema_path} is neither in the code directory ({Path(target).expanduser()}) nor in"
        " the working directory; expected a JSON or YAML file",
    )


def create_job(
    store: Store,
    kind: str,
    name: str,
    target: str,
    *,
    entrypoint: str | None = None,
    schema_path: str | None = None,
    aliases: tuple[str, ...] = (),
    description: str | None = None,
    ref: str | None = None,
    subdir: str | None = None,
    dockerfile: str | None = None,
    base_image: str | None = None,
    snapshot_report: SnapshotReport | None = None,
) -> CreatedVersion:
    """Create (or find unchanged) a version of job `name`. `target` is the image, the code
    directory or the git URL, by kind. Everything is checked before the store is touched.
    A code job's packing is told to `snapshot_report` as it goes, and what went in once done."""
    validate_name(name, "NAME")
    for alias in aliases:
        validate_alias(alias)
    argv = _entrypoint(entrypoint)
    schema = load_schema_file(_schema_file(schema_path, kind, target)) if schema_path else None
    if kind == "image":
        if not target or any(c.isspace() for c in target):
            raise BadInput(
                "IMAGE",
                f"{target!r}; expected an image reference such as"
                " python:3.11 or registry:5000/team/train:1.2",
            )
        source = {"image": target}
    elif kind == "code":
        if dockerfile and not (Path(target).expanduser() / dockerfile).is_file():
            raise BadInput("--dockerfile", f"{dockerfile} is not a file in {target}")
        progress = snapshot_report.progress if snapshot_report else None
        snapshot = pack_directory(Path(target).expanduser(), store.artifacts, progress)
        if snapshot_report:
            snapshot_report.packed(snapshot)
        source = snapshot.source
    elif kind == "git":
        source = gitsource.resolve(target, ref, subdir)
    else:
        raise BadInput("job type", f"{kind!r}; expected image, code or git")
    source.update(_build_source(kind, dockerfile, base_image))
    return store.jobs.create_version(
        name,
        kind,
        source,
        entrypoint=argv,
        input_schema=schema,
        description=description,
        aliases=aliases,
    )


def job_for_source(store: Store, *, uri: str | None, image: str | None) -> CreatedVersion:
    """The job `launch -u/--uri` or `-d/--docker-image` runs, made or reused as W&B's launch
    does: an image job for an image, a git job for a git URL, a code job for a directory.

    "Same source, same job": the job is named after the exact source (the image reference as
    given, the git URL as given, the directory's absolute path), so launching the same source
    again adds no job; its content decides the version (unchanged code: the same version;
    changed code, or a git branch that moved: a new version of that job)."""
    if (uri is None) == (image is None):
        raise BadInput("-j/--job", "expected one of --job, --uri or --docker-image")
    if image is not None:
        return create_job(store, "image", _source_job_name("image", image), image)
    if gitsource.is_git_url(uri):
        return create_job(store, "git", _source_job_name("git", uri), uri)
    folder = Path(uri).expanduser()
    if not folder.is_dir():
        raise BadInput("-u/--uri", f"{uri!r}; expected a directory of code or a git URL")
    folder = folder.resolve()
    return create_job(store, "code", _source_job_name("code", str(folder)), str(folder))


def _source_job_name(kind: str, source: str) -> str:
    """`KIND-STEM-HASH`: readable (the source's last part), and exact (a hash of all of it)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", source.rstrip("/").rsplit("/", 1)[-1]).strip("-.")
    digest = hashlib.sha256(source.encode()).hexdigest()[:10]
    return f"{kind}-{stem[:40] or 'source'}-{digest}"

"""Git jobs: resolve a ref to a pinned commit at create time; check it out for a run."""

import os
import re
import tempfile
from pathlib import Path

from runners.protocol import RunnerError
from store import BadInput, Stage

_URL = re.compile(r"^(https?://|ssh://|git://|file://)\S+$|^[\w.-]+@[\w.-]+:\S+$")
_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
GIT_TIMEOUT_SECONDS = 120


def git_env() -> dict:
    """Never prompt: a job create or a run must fail with a message, not hang on a password."""
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def _git():
    import git  # GitPython costs ~0.2 s to import: only commands that use git pay for it

    return git


def is_git_url(text: str) -> bool:
    """Whether `text` is a URL git clones (https://, ssh://, git://, file://, user@host:path)."""
    return bool(_URL.fullmatch(text or ""))


def resolve(url: str, ref: str | None, subdir: str | None) -> dict:
    """The source of a git job: the URL, the commit `ref` names (pinned), and the subdir."""
    if not _URL.fullmatch(url or ""):
        raise BadInput(
            "URL", f"{url!r} is not a git URL; expected https://, ssh://, file:// or user@host:path"
        )
    if subdir is not None:
        parts = Path(subdir).parts
        if Path(subdir).is_absolute() or ".." in parts:
            raise BadInput("--subdir", f"{subdir!r}; expected a relative path inside the repo")
    git = _git()
    runner = git.cmd.Git()
    try:
        listing = runner.ls_remote(url, env=git_env(), kill_after_timeout=GIT_TIMEOUT_SECONDS)
    except git.GitCommandError as exc:
        raise BadInput("URL", f"{url} could not be reached: {_last_line(exc)}") from None
    refs = dict(_parse_ls_remote(listing))
    commit = _pick_commit(refs, ref)
    with tempfile.TemporaryDirectory(prefix="launchbay-git-") as tmp:
        repo = git.Repo.init(tmp, bare=True)
        if commit is None:
            if ref is None or not _HEX.fullmatch(ref):
                raise BadInput("--ref", f"{ref!r} is not a branch, tag or commit of {url}")
            commit = _fetch_commit(repo, url, ref)
        else:
            try:
                _fetch(repo, url, commit)
            except git.GitCommandError as exc:
                raise BadInput(
                    "URL", f"{url}: fetching {commit[:12]} failed: {_last_line(exc)}"
                ) from None
        if subdir:
            try:
                kind = repo.git.cat_file("-t", f"{commit}:{subdir}")
            except git.GitCommandError:
                kind = None
            if kind != "tree":
                raise BadInput("--subdir", f"{subdir!r} is not a directory at {commit[:12]}")
    return {"url": url, "commit": commit, "subdir": subdir}


def _parse_ls_remote(listing: str):
    for line in listing.splitlines():
        sha, _, name = line.partition("\t")
        yield name, sha


def _pick_commit(refs: dict[str, str], ref: str | None) -> str | None:
    if ref is None:
        return refs.get("HEAD")
    for name in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}"):
        # An annotated tag lists the tag object, then the commit it points to as NAME^{}.
        if f"{name}^{{}}" in refs:
            return refs[f"{name}^{{}}"]
        if name in refs:
            return refs[name]
    return None


def _fetch(repo, url: str, commit: str) -> None:
    git = _git()
    try:
        repo.git.fetch(url, commit, depth=1, env=git_env(), kill_after_timeout=GIT_TIMEOUT_SECONDS)
    except git.GitCommandError:
        # Some servers refuse to serve a commit by sha: take everything, then look.
        repo.git.fetch(
            url,
            "+refs/*:refs/remotes/origin/*",
            env=git_env(),
            kill_after_timeout=GIT_TIMEOUT_SECONDS,
        )


def _fetch_commit(repo, url: str, ref: str) -> str:
    """A (possibly abbreviated) commit sha → the full sha, if the remote has that commit."""
    git = _git()
    try:
        if len(ref) == 40:
            _fetch(repo, url, ref)
        else:
            repo.git.fetch(
                url,
                "+refs/*:refs/remotes/origin/*",
                env=git_env(),
                kill_after_timeout=GIT_TIMEOUT_SECONDS,
            )
        return repo.git.rev_parse("--verify", f"{ref}^{{commit}}")
    except git.GitCommandError:
        raise BadInput("--ref", f"{ref!r} is not a branch, tag or commit of {url}") from None


def checkout(source: dict, target: Path) -> Path:
    """Check out the pinned commit into `target`; returns the job's directory (the subdir)."""
    git = _git()
    try:
        repo = git.Repo.init(target)
        _fetch(repo, source["url"], source["commit"])
        repo.git.checkout(source["commit"], "--detach", "--quiet")
    except git.GitCommandError as exc:
        raise RunnerError(
            Stage.BUILD,
            f"git checkout of {source['url']} at {source['commit'][:12]} failed: {_last_line(exc)}",
        ) from None
    return target / source["subdir"] if source.get("subdir") else target


def _last_line(exc) -> str:
    text = (getattr(exc, "stderr", "") or str(exc)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    meaningful = [line for line in lines if line.lower().startswith(("fatal", "error"))]
    line = (meaningful or lines or ["unknown error"])[-1]
    return line.removeprefix("stderr: ").strip("'")

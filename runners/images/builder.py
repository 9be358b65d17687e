"""The image builder: code and git jobs become images, image jobs are made present.

The Dockerfile is chosen first match wins: the launch's override, the job's own, a Dockerfile
next to the entrypoint's script, else a generated one. The tag is a hash of everything that
goes into the build; since a job version's code never changes, the hash needs no checkout, and
an image already tagged with it is reused without building anything. With a registry in the
queue config the image is pushed there, and remote targets run the pushed reference.

Every failure here is at stage `build`, with what the user can do about it.
"""

import hashlib
import json
import os
import re
from collections import deque
from pathlib import Path

from runners.catalog.workspace import materialize
from runners.images.progress import ProgressLine
from runners.images.settings import DEFAULT_BASE_IMAGE
from runners.launch.rendering import default_entry_point
from runners.protocol import RunnerError
from runners.runlog.logfile import open_append
from runners.targets.docker.sdk import engine, errors
from store import BadInput, JobVersion, Stage

# Bump when the generated Dockerfile changes, so old images aren't reused for the new recipe.
GENERATOR_VERSION = 1
GENERATED_DOCKERFILE = ".launchbay.Dockerfile"
# The job's own Dockerfile beside its entrypoint script, in the order looked for.
DOCKERFILE_NAMES = ("Dockerfile.launchbay", "Dockerfile")
BUILD_TAIL_LINES = 12
TAIL_LINE_CHARS = 200
JOB_UID = 1000


class BuildLog:
    """Build and pull output, appended to the run's log; keeps the last lines for errors.
    A pull's or push's progress is one line redrawn in place (runners.images.progress)."""

    def __init__(self, log_path: Path):
        self.path = log_path
        self.tail: deque[str] = deque(maxlen=BUILD_TAIL_LINES)
        self._progress: ProgressLine | None = None

    def write(self, text: str) -> None:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            return
        self.end_progress(completed=False)
        self.tail.extend(lines)
        self._append("\n".join(lines) + "\n")

    def note(self, text: str) -> None:
        self.write(f"[launchbay] {text}")

    @property
    def in_progress(self) -> bool:
        return self._progress is not None

    def start_progress(self, doing: str, done: str, image: str | None) -> None:
        """Start the line of a pull or push (`pulling`, `pulled`, what is pulled; None: a
        build's FROM image, named once the engine says which)."""
        self.end_progress()
        self._progress = ProgressLine(doing, done, image)
        self._append(self._progress.text)

    def progress(self, chunk: dict) -> None:
        """One of the engine's progress messages: the line redrawn if it moved enough."""
        text = self._progress.update(chunk)
        if text is not None:
            self._append(f"\r{text}")

    def end_progress(self, completed: bool = True) -> None:
        """End the progress line: with its summary when `completed`, else as it stands (the
        pull failed, or other output came first); the engine's own lines follow it."""
        line, self._progress = self._progress, None
        if line is None:
            return
        last = line.summary() if completed else line.text
        self._append(f"\r{last}\n")
        self.tail.append(last)
        self.write("\n".join(line.engine_lines))

    def _append(self, text: str) -> None:
        fd = open_append(self.path)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    def last_lines(self) -> str:
        """The build's last lines for the run's error, each cut short: the whole of them is
        in the log."""
        return "\n".join(
            line if len(line) <= TAIL_LINE_CHARS else line[:TAIL_LINE_CHARS] + "…"
            for line in self.tail
        )


def image_for_run(ctx) -> str:
    """For a remote target: the job's image, or for code and git jobs the one built here and
    pushed to the queue's registry (the docker engine and SDK are needed for that)."""
    if ctx.job.type == "image":
        return ctx.job.source["image"]
    try:
        client = engine(Stage.BUILD)
    except BadInput as exc:  # the docker extra is missing
        raise RunnerError(
            Stage.BUILD, f"{ctx.job.ref} must be built into an image first: {exc.message}"
        ) from None
    build_log = BuildLog(ctx.log_path)
    return ensure_image(
        client, ctx.spec, ctx.job, ctx.artifact_path, ctx.run_dir / "build", build_log
    )


def image_repository(job: JobVersion, registry: str | None) -> tuple[str, str]:
    """(repository, tag prefix). Pushed images share one repository, as ECR wants."""
    name = re.sub(r"[^a-z0-9]+", "-", job.name.lower()).strip("-") or "job"
    if registry:
        return registry, f"{name}-"
    return f"launchbay/{name}", ""


def build_key(job: JobVersion, build: dict) -> str:
    """The hash of what goes into an image: the job's content (its version's digest), how the
    Dockerfile is chosen and the base image. Anything else is already inside the digest."""
    recipe = {
        "job": job.digest,
        "dockerfile_override": build.get("dockerfile"),
        "base_image": job.source.get("base_image") or build.get("base_image") or DEFAULT_BASE_IMAGE,
        "generator": GENERATOR_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def image_reference(job: JobVersion, build: dict) -> str:
    repository, prefix = image_repository(job, build.get("registry"))
    return f"{repository}:{prefix}{build_key(job, build)}"


def ensure_image(client, spec: dict, job: JobVersion, artifact_path, work_dir: Path, log: BuildLog):
    """The image reference a run of `spec` uses, built, pulled or pushed as needed."""
    build = spec.get("build") or {}
    if job.type == "image":
        platform = (spec.get("resource_args") or {}).get("platform")
        ensure_present(client, job.source["image"], platform, log)
        return job.source["image"]
    reference = image_reference(job, build)
    if _has_image(client, reference):
        log.note(f"image {reference} is already built for {job.ref}; reusing it")
    else:
        context = materialize(job, artifact_path, work_dir)
        dockerfile, origin = choose_dockerfile(job, build, context)
        log.note(f"building {reference} from {origin}")
        _build(client, context, dockerfile, reference, build.get("network"), log)
    if build.get("registry"):
        push(client, reference, log)
    return reference


def choose_dockerfile(job: JobVersion, build: dict, context: Path) -> tuple[str, str]:
    """(Dockerfile path relative to the context, where it came from), first match wins."""
    for path, origin in (
        (build.get("dockerfile"), "the launch's dockerfile override"),
        (job.source.get("dockerfile"), "the job's Dockerfile"),
    ):
        if path:
            if not (context / path).is_file():
                raise RunnerError(
                    Stage.BUILD, f"{origin} {path!r} is not a file in the code of {job.ref}"
                )
            return path, f"{path} ({origin})"
    beside = _dockerfile_beside_entrypoint(job, context)
    if beside:
        return beside, f"{beside} (next to the entrypoint)"
    base = job.source.get("base_image") or build.get("base_image") or DEFAULT_BASE_IMAGE
    (context / GENERATED_DOCKERFILE).write_text(generated_dockerfile(job, base, context))
    return GENERATED_DOCKERFILE, f"a generated Dockerfile (base {base})"


def _dockerfile_beside_entrypoint(job: JobVersion, context: Path) -> str | None:
    root = context.resolve()
    for word in default_entry_point(job) or []:
        script = (context / word).resolve()
        if not script.is_file() or root not in script.parents:
            continue  # an interpreter or a flag, not a script of the job's
        for name in DOCKERFILE_NAMES:
            if (script.parent / name).is_file():
                return str((script.parent / name).relative_to(root))
    return None


def generated_dockerfile(job: JobVersion, base_image: str, context: Path) -> str:
    """A Dockerfile for plain Python code: requirements first (a cached layer), then the code,
    run as a non-root user. The exact entrypoint is given at run time; this one is for people
    who run the image by hand."""
    lines = [f"FROM {base_image}", "WORKDIR /app"]
    requirements = context / "requirements.txt"
    if requirements.is_file():
        # Requirements alone first, so a new version of the code reuses the installed layer;
        # unless they name files of the code (./wheels/x.whl, -e .), which must be there too.
        needs_code = _names_local_paths(requirements.read_text(errors="replace"))
        lines += [
            f"COPY --chown={JOB_UID}:{JOB_UID} . /app"
            if needs_code
            else "COPY requirements.txt /app/requirements.txt",
            # Debian-based images mark their Python externally managed; this image is ours.
            "RUN PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1"
            " python3 -m pip install --no-cache-dir -r requirements.txt",
        ]
    lines += [
        f"COPY --chown={JOB_UID}:{JOB_UID} . /app",
        f"USER {JOB_UID}:{JOB_UID}",
        "ENV HOME=/tmp PYTHONUNBUFFERED=1",
        f"ENTRYPOINT {json.dumps(default_entry_point(job) or ['python', 'main.py'])}",
    ]
    return "\n".join(lines) + "\n"


def _names_local_paths(requirements: str) -> bool:
    for line in requirements.splitlines():
        words = line.split("#", 1)[0].split()
        if any(word.startswith((".", "/", "file:")) for word in words):
            return True
    return False


def _has_image(client, reference: str) -> bool:
    try:
        client.images.get(reference)
        return True
    except errors.ImageNotFound:
        return False


def _build(client, context: Path, dockerfile: str, reference: str, network, log: BuildLog):
    options = {"network_mode": network} if network else {}
    try:
        for chunk in client.api.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=reference,
            rm=True,
            forcerm=True,
            decode=True,
            **options,
        ):
            if "stream" in chunk:
                log.end_progress()  # a FROM image's pull, if one was under way, is over
                log.write(chunk["stream"])
            elif "status" in chunk:
                if not log.in_progress:
                    log.start_progress("pulling", "pulled", None)  # named by the engine
                log.progress(chunk)
            elif "error" in chunk:
                log.write(chunk["error"])
                raise RunnerError(
                    Stage.BUILD,
                    f"building {reference} failed: {chunk['error'].strip()}\n"
                    f"last lines of the build:\n{log.last_lines()}",
                )
    except errors.APIError as exc:
        raise RunnerError(
            Stage.BUILD, f"building {reference} failed: {exc.explanation or exc}"
        ) from None
    except OSError as exc:  # requests' ConnectionError and timeouts are OSErrors
        raise RunnerError(Stage.BUILD, f"building {reference} failed: {exc}") from None
    finally:
        log.end_progress(completed=False)  # a pull cut short: its line as it stood


def push(client, reference: str, log: BuildLog) -> None:
    repository, _, tag = reference.rpartition(":")
    log.start_progress("pushing", "pushed", reference)
    try:
        for chunk in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                raise RunnerError(
                    Stage.BUILD,
                    f"pushing {reference} failed: {chunk['error'].strip()}; check that the"
                    " queue's registry is reachable and that you are logged in to it",
                )
            log.progress(chunk)
        log.end_progress()
    except errors.APIError as exc:
        raise RunnerError(Stage.BUILD, f"pushing {reference} failed: {exc.explanation}") from None
    except OSError as exc:
        raise RunnerError(Stage.BUILD, f"pushing {reference} failed: {exc}") from None
    finally:
        log.end_progress(completed=False)  # failed: its line as it stood


def ensure_present(client, image: str, platform: str | None, log: BuildLog) -> None:
    """Pull `image` unless the engine has it; a failed pull is a build failure, not a hang."""
    if _has_image(client, image):
        return
    log.start_progress("pulling", "pulled", image)
    repository, tag = _split_reference(image)
    try:
        for chunk in client.api.pull(
            repository, tag=tag, stream=True, decode=True, platform=platform
        ):
            if "error" in chunk:
                raise RunnerError(
                    Stage.BUILD,
                    f"image {image} is not on this engine and pulling it failed:"
                    f" {chunk['error'].strip()}",
                )
            log.progress(chunk)
        log.end_progress()
    except errors.APIError as exc:
        raise RunnerError(
            Stage.BUILD,
            f"image {image} is not on this engine and pulling it failed: {exc.explanation}",
        ) from None
    except OSError as exc:
        raise RunnerError(
            Stage.BUILD, f"image {image} is not on this engine and pulling it failed: {exc}"
        ) from None
    finally:
        log.end_progress(completed=False)  # failed: its line as it stood
    if not _has_image(client, image):
        raise RunnerError(Stage.BUILD, f"image {image} could not be pulled")


def _split_reference(image: str) -> tuple[str, str | None]:
    if "@" in image:
        return image, None
    repository, sep, tag = image.rpartition(":")
    if sep and "/" not in tag:
        return repository, tag
    return image, "latest"

"""A queue's image-build settings: where built images are pushed and what they start from.

They sit at the top of a container queue's config, beside resource_args, so every container
target (docker, kubernetes, sagemaker, vertex) reads them the same way:

    registry: 127.0.0.1:5000/team/launchbay   # push built images here (remote targets need it)
    builder:
      base_image: python:3.11-slim             # for generated Dockerfiles
      network: none                            # network of build steps (engine default if unset)

W&B's queue configs name the base image of a GPU queue's builds `builder.accelerator.base_image`
(older ones `builder.cuda.base_image`), and hold `builder` among the resource args: both are
taken, as the one base image launchbay builds from.
"""

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from runners.launch.validation import check_model
from store import BadInput

DEFAULT_BASE_IMAGE = "python:3.11-slim"
# host[:port]/path, the shape `docker push` accepts (no tag: launchbay picks the tag).
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:\d+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)+$")


class AcceleratorSettings(BaseModel):
    """W&B's `builder.accelerator` (or `builder.cuda`) block."""

    model_config = ConfigDict(extra="forbid")

    base_image: str | None = None
    """The base image of the build (a CUDA image for a GPU queue)."""


class BuilderSettings(BaseModel):
    """`builder:` in a queue config."""

    model_config = ConfigDict(extra="forbid")

    base_image: str | None = None
    """Base image of generated Dockerfiles when the job names none."""
    network: str | None = None
    """Network mode of build steps (`none`, `host`, …); the engine's default when unset."""
    accelerator: AcceleratorSettings | None = None
    """W&B's spelling of base_image: `accelerator: {base_image: nvidia/cuda:12.4.1-runtime…}`."""
    cuda: AcceleratorSettings | None = None
    """W&B's older spelling of accelerator."""

    @model_validator(mode="after")
    def _one_base_image(self):
        images = {
            image
            for image in (
                self.base_image,
                self.accelerator and self.accelerator.base_image,
                self.cuda and self.cuda.base_image,
            )
            if image  # W&B skips an empty one too
        }
        if len(images) > 1:
            raise ValueError(
                f"names {len(images)} base images ({', '.join(sorted(images))}); expected one"
                " of base_image, accelerator.base_image or cuda.base_image"
            )
        self.base_image = _image_reference(images.pop() if images else self.base_image)
        self.accelerator = self.cuda = None
        return self


def _image_reference(value: str | None) -> str | None:
    if value is not None and (not value or any(c.isspace() for c in value)):
        raise ValueError(f"{value!r}: expected an image reference such as python:3.11-slim")
    return value


def check_registry(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _REGISTRY.fullmatch(value):
        raise BadInput(
            "registry",
            f"{value!r}; expected HOST[:PORT]/REPOSITORY such as 127.0.0.1:5000/launchbay",
        )
    return value


def check_builder(value, field: str = "builder") -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadInput(field, "expected a mapping with base_image and network")
    return check_model(BuilderSettings, value, field).model_dump(exclude_none=True)


def launch_base_image(builder, resource: str, builds_images: bool) -> str | None:
    """The base image a launch's own `resource_args.builder` asks for (W&B's launch configs
    may carry `builder.accelerator.base_image`): its builds only, never their network."""
    field = "resource_args.builder"
    if builder is None:
        return None
    if not builds_images:
        raise BadInput(field, f"{resource} queues build no images; expected no builder")
    settings = check_builder(builder, field) or {}
    if "network" in settings:
        raise BadInput(f"{field}.network", "can be set only in the queue's own config")
    return settings.get("base_image")


def lift_builder(resource_args: dict, builder: Any) -> tuple[dict, Any]:
    """A W&B queue config holds `builder` among its resource args: taken out as the queue's
    `builder:` (both at once is refused)."""
    if not isinstance(resource_args, dict) or "builder" not in resource_args:
        return resource_args, builder
    if builder is not None:
        raise BadInput(
            "resource_args.builder",
            "the config has builder: too; expected one builder block",
        )
    rest = {key: value for key, value in resource_args.items() if key != "builder"}
    return rest, resource_args["builder"]


def build_settings(queue_config: dict) -> dict:
    """What the builder needs from a queue's config, as carried in each run's spec."""
    builder = queue_config.get("builder") or {}
    return {
        "registry": queue_config.get("registry"),
        "base_image": builder.get("base_image"),
        "network": builder.get("network"),
    }

"""A queue's image-build settings: where built images are pushed and what they start from.

They sit at the top of a container queue's config, beside resource_args, so every container
target (docker, kubernetes, sagemaker, vertex) reads them the same way:

    registry: 127.0.0.1:5000/team/launchbay   # push built images here (remote targets need it)
    builder:
      base_image: python:3.11-slim             # for generated Dockerfiles
      network: none                            # network of build steps (engine default if unset)
"""

import re

from pydantic import BaseModel, ConfigDict, field_validator

from runners.launch.validation import check_model
from store import BadInput

DEFAULT_BASE_IMAGE = "python:3.11-slim"
# host[:port]/path, the shape `docker push` accepts (no tag: launchbay picks the tag).
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:\d+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)+$")


class BuilderSettings(BaseModel):
    """`builder:` in a queue config."""

    model_config = ConfigDict(extra="forbid")

    base_image: str | None = None
    """Base image of generated Dockerfiles when the job names none."""
    network: str | None = None
    """Network mode of build steps (`none`, `host`, …); the engine's default when unset."""

    @field_validator("base_image")
    @classmethod
    def _image_reference(cls, value):
        if value is not None and (not value or any(c.isspace() for c in value)):
            raise ValueError("expected an image reference such as python:3.11-slim")
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


def check_builder(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadInput("builder", "expected a mapping with base_image and network")
    return check_model(BuilderSettings, value, "builder").model_dump(exclude_none=True)


def build_settings(queue_config: dict) -> dict:
    """What the builder needs from a queue's config, as carried in each run's spec."""
    builder = queue_config.get("builder") or {}
    return {
        "registry": queue_config.get("registry"),
        "base_image": builder.get("base_image"),
        "network": builder.get("network"),
    }

"""The GPU keys of the config file (the same file as the app's keys and theme):

```yaml
gpus: [0, 1, 3]          # launchbay hands out only these (NVML indices); GPU 2 stays yours
gpu_busy_above_mib: 1024 # a device on which processes launchbay did not start use more than
                         # this much memory is busy: launchbay won't place a run there
```

On a machine without NVML the devices can be declared instead:

```yaml
gpus:
  - {index: 0, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920}
  - {index: 1, name: NVIDIA GeForce RTX 4090, memory_mib: 24564, uuid: GPU-5e1c…}
```
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from store import BadInput

from . import inventory as nvml
from .inventory import Gpu, Inventory

DEFAULT_BUSY_ABOVE_MIB = 1024


class DeclaredGpu(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0)
    name: str = Field(min_length=1)
    memory_mib: int = Field(gt=0)
    uuid: str | None = None


class GpuSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the rest of the file is the app's

    gpus: list[int] | list[DeclaredGpu] | None = None
    """NVML indices to hand out, or the devices of a machine without NVML."""
    gpu_busy_above_mib: int = Field(default=DEFAULT_BUSY_ABOVE_MIB, ge=0)
    """Memory used by processes launchbay did not start above which a device counts as busy."""

    @field_validator("gpus")
    @classmethod
    def _distinct(cls, gpus):
        indices = [g if isinstance(g, int) else g.index for g in gpus or ()]
        repeated = sorted({i for i in indices if indices.count(i) > 1})
        if repeated:
            raise ValueError(f"GPU {repeated[0]} is listed twice; expected each index once")
        for index in indices:
            if isinstance(index, bool) or index < 0:
                raise ValueError(f"{index!r} is not a GPU index; expected a whole number ≥ 0")
        return gpus


def load_gpu_settings() -> GpuSettings:
    """The GPU keys of the user's config file (defaults when it has none)."""
    from runners.launch.validation import check_model
    from runners.system.config_file import read_config_document

    return check_model(GpuSettings, read_config_document(), "config")


def load_inventory(settings: GpuSettings, read=None) -> Inventory:
    """The devices launchbay may hand out: NVML's, kept to `gpus:` when it lists indices, or
    the declared ones. A listed index this machine lacks is BadInput."""
    if settings.gpus and isinstance(settings.gpus[0], DeclaredGpu):
        return Inventory(tuple(_declared(g) for g in settings.gpus), source="config")
    found = read() if read else nvml.read_nvml()
    if settings.gpus is None:
        return found
    by_index = {gpu.index: gpu for gpu in found.gpus}
    for index in settings.gpus:
        if index not in by_index:
            seen = f"NVML sees {', '.join(map(str, sorted(by_index)))}" if by_index else found.note
            raise BadInput(
                "config.gpus",
                f"GPU {index} does not exist on this machine ({seen}); expected the"
                " indices of existing devices, or declared devices {index, name, memory_mib}",
            )
    return Inventory(tuple(by_index[i] for i in sorted(settings.gpus)), note=found.note)


def _declared(gpu: DeclaredGpu) -> Gpu:
    return Gpu(index=gpu.index, uuid=gpu.uuid, name=gpu.name, memory_total_mib=gpu.memory_mib)

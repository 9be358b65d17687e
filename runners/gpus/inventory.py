"""What GPUs this machine has and how busy each is now: read through NVML (nvidia-ml-py), or
declared in the config file for a machine without it.

NVML is loaded on first use and never raises out of here: no library, no driver or no devices
gives an empty inventory and a `note` saying why, shown where it matters (a launch that asks for
GPUs, `launchbay gpus`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_mib: int | None  # None where NVML can't say (some drivers, some containers)


@dataclass(frozen=True)
class Gpu:
    index: int  # NVML's index, which is PCI bus order (what CUDA_DEVICE_ORDER=PCI_BUS_ID uses)
    uuid: str | None  # GPU-…; None in a declared inventory that names none
    name: str
    memory_total_mib: int
    memory_used_mib: int = 0
    utilization_percent: int | None = None
    processes: tuple[GpuProcess, ...] = ()

    @property
    def key(self) -> str:
        """What allocations are keyed on, and what a run's CUDA_VISIBLE_DEVICES lists: the UUID
        where there is one (the same device whatever the numbering), else the index."""
        return self.uuid or str(self.index)

    @property
    def memory_free_mib(self) -> int:
        return max(0, self.memory_total_mib - self.memory_used_mib)


@dataclass(frozen=True)
class Inventory:
    gpus: tuple[Gpu, ...] = ()
    source: str = "nvml"  # "nvml" or "config" (declared in the config file)
    note: str | None = None  # why it is empty, or what was left out
    by_key: dict[str, Gpu] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self.by_key.update({gpu.key: gpu for gpu in self.gpus})


_nvml_lock = threading.Lock()
_nvml_ready = False


def read_nvml() -> Inventory:
    """Every device NVML sees, with its memory, utilisation and processes now."""
    try:
        import pynvml
    except ImportError:
        return Inventory(note="nvidia-ml-py is not installed: pip install nvidia-ml-py")
    try:
        _init(pynvml)
        count = pynvml.nvmlDeviceGetCount()
        return Inventory(tuple(_read_device(pynvml, index) for index in range(count)))
    except pynvml.NVMLError as exc:
        return Inventory(note=f"no GPUs through NVML: {_nvml_reason(pynvml, exc)}")


def _init(pynvml) -> None:
    # nvmlInit is reference-counted and costs tens of milliseconds; once per process is enough.
    global _nvml_ready
    with _nvml_lock:
        if not _nvml_ready:
            pynvml.nvmlInit()
            _nvml_ready = True


def _read_device(pynvml, index: int) -> Gpu:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    return Gpu(
        index=index,
        uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
        name=_text(pynvml.nvmlDeviceGetName(handle)),
        memory_total_mib=memory.total // MIB,
        memory_used_mib=memory.used // MIB,
        utilization_percent=_utilization(pynvml, handle),
        processes=_processes(pynvml, handle),
    )


def _utilization(pynvml, handle) -> int | None:
    try:
        return pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
    except pynvml.NVMLError:  # not supported on every device (some MIG and vGPU setups)
        return None


def _processes(pynvml, handle) -> tuple[GpuProcess, ...]:
    found: dict[int, GpuProcess] = {}
    for read in (
        pynvml.nvmlDeviceGetComputeRunningProcesses,
        pynvml.nvmlDeviceGetGraphicsRunningProcesses,
    ):
        try:
            entries = read(handle)
        except pynvml.NVMLError:
            continue
        for entry in entries:
            used = entry.usedGpuMemory
            found[entry.pid] = GpuProcess(entry.pid, None if used is None else used // MIB)
    return tuple(found.values())


def _nvml_reason(pynvml, exc: Exception) -> str:
    if isinstance(exc, pynvml.NVMLError_LibraryNotFound):
        return "no NVIDIA driver here (its NVML library is not installed)"
    if isinstance(exc, pynvml.NVMLError_DriverNotLoaded):
        return "the NVIDIA driver is not loaded"
    return str(exc)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

"""Hardware behind small interfaces: NVML for GPU memory, a clock for timing.

Tests swap in fakes (``tests/fakes.py``); nothing here touches hardware at import time.
"""

from __future__ import annotations

import os
import time
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> float: ...


monotonic: Clock = time.perf_counter


class Nvml(Protocol):
    """The slice of NVML mgbench reads. Indices follow ``CUDA_DEVICE_ORDER=PCI_BUS_ID``."""

    def device_count(self) -> int: ...
    def device_name(self, index: int) -> str: ...
    def driver_version(self) -> str: ...
    def memory_total_bytes(self, index: int) -> int: ...
    def memory_used_bytes(self, index: int) -> int: ...
    def process_used_bytes(self, index: int, pid: int) -> int | None: ...


class NvmlUnavailable(Exception):
    """NVML cannot be used here; the message is the reason recorded beside null fields."""


class RealNvml:
    def __init__(self) -> None:
        try:
            import pynvml
        except ImportError as error:  # nvidia-ml-py is a dependency, but say so plainly
            raise NvmlUnavailable(f"nvidia-ml-py is not installed: {error}") from error
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            raise NvmlUnavailable(f"NVML could not start: {error}") from error
        self._nvml = pynvml

    def _handle(self, index: int):
        return self._nvml.nvmlDeviceGetHandleByIndex(index)

    def device_count(self) -> int:
        return int(self._nvml.nvmlDeviceGetCount())

    def device_name(self, index: int) -> str:
        name = self._nvml.nvmlDeviceGetName(self._handle(index))
        return name.decode() if isinstance(name, bytes) else str(name)

    def driver_version(self) -> str:
        version = self._nvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else str(version)

    def memory_total_bytes(self, index: int) -> int:
        return int(self._nvml.nvmlDeviceGetMemoryInfo(self._handle(index)).total)

    def memory_used_bytes(self, index: int) -> int:
        return int(self._nvml.nvmlDeviceGetMemoryInfo(self._handle(index)).used)

    def process_used_bytes(self, index: int, pid: int) -> int | None:
        processes = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle(index))
        for process in processes:
            if process.pid == pid:
                used = process.usedGpuMemory
                return None if used is None else int(used)
        return None  # not listed: no context yet, or a PID namespace hides it


def open_nvml() -> Nvml:
    """A working NVML, or :class:`NvmlUnavailable` with the reason."""
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    return RealNvml()


def gpu_count() -> int:
    """GPUs visible to this process, found without starting TensorFlow (0 without NVML)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    try:
        count = open_nvml().device_count()
    except NvmlUnavailable:
        return 0
    if visible:
        return min(count, len([v for v in visible.split(",") if v.strip()]))
    return count


def describe_devices() -> str:
    """What ``mgbench devices`` prints: GPUs as TF and NVML see them, and how runs will simulate."""
    from mgbench.platform import lazy

    tf = lazy.tensorflow()
    lines = []
    gpus = tf.config.list_physical_devices("GPU")
    cpus = tf.config.list_physical_devices("CPU")
    lines.append(f"TensorFlow {tf.__version__}: {len(gpus)} GPU(s), {len(cpus)} CPU device(s)")
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        lines.append(f"  {gpu.name}: {details.get('device_name', '?')}")
    try:
        nvml = open_nvml()
    except NvmlUnavailable as reason:
        lines.append(f"NVML: unavailable ({reason})")
    else:
        lines.append(f"NVML: driver {nvml.driver_version()}, {nvml.device_count()} device(s)")
        for index in range(nvml.device_count()):
            total = nvml.memory_total_bytes(index) / 2**20
            used = nvml.memory_used_bytes(index) / 2**20
            lines.append(
                f"  {index}: {nvml.device_name(index)}, {used:,.0f} / {total:,.0f} MiB used"
            )
    if gpus:
        lines.append("Runs use the GPUs (memory growth on); --virtual-gpus N splits the first one.")
    else:
        lines.append(
            "No GPU: runs simulate replicas as logical CPUs (CPU:1..N; CPU:0 is the host). "
            "This tests correctness and placement, not the speed claim."
        )
    return "\n".join(lines)

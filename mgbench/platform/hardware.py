"""Hardware behind small interfaces: NVML for GPU memory and energy, a clock for timing.

Tests swap in fakes (``tests/unit/fakes.py``); nothing here touches hardware at import time, and
nothing here imports TensorFlow, so ``benchmarks/device_probe.py`` runs on machines without it.

NVML numbers its devices in PCI bus order and ignores ``CUDA_VISIBLE_DEVICES``; a framework's
GPU *i* is the *i*-th device CUDA shows this process. :func:`visible_nvml_indices` maps one to
the other by UUID, which is the only way that survives a remapped or UUID-valued
``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Clock(Protocol):
    def __call__(self) -> float: ...


monotonic: Clock = time.perf_counter


@dataclass(frozen=True)
class ProcessMemory:
    """What NVML's list of compute processes on one device says about one PID."""

    listed: bool  # NVML listed this PID on the device
    used_bytes: int | None  # its memory (None: not listed, or listed without a figure)
    other_processes: int  # compute processes NVML listed that are not this PID


class Nvml(Protocol):
    """The slice of NVML mgbench reads. Indices are NVML's (PCI bus order), not the framework's:
    map them with :func:`visible_nvml_indices`."""

    def device_count(self) -> int: ...
    def device_name(self, index: int) -> str: ...
    def device_uuid(self, index: int) -> str: ...
    def mig_uuids(self, index: int) -> tuple[str, ...]: ...
    def driver_version(self) -> str: ...
    def memory_total_bytes(self, index: int) -> int: ...
    def memory_used_bytes(self, index: int) -> int: ...
    def process_memory(self, index: int, pid: int) -> ProcessMemory: ...
    def process_used_bytes(self, index: int, pid: int) -> int | None: ...
    def energy_mj(self, index: int) -> int | None: ...


class NvmlUnavailable(Exception):
    """NVML cannot be used here; the message is the reason recorded beside null fields."""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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

    def _handle(self, index: int) -> Any:
        return self._nvml.nvmlDeviceGetHandleByIndex(index)

    def device_count(self) -> int:
        return int(self._nvml.nvmlDeviceGetCount())

    def device_name(self, index: int) -> str:
        return _text(self._nvml.nvmlDeviceGetName(self._handle(index)))

    def device_uuid(self, index: int) -> str:
        return _text(self._nvml.nvmlDeviceGetUUID(self._handle(index)))

    def mig_uuids(self, index: int) -> tuple[str, ...]:
        """The UUIDs of the MIG instances on this GPU (none when MIG is off or unsupported)."""
        nvml, handle = self._nvml, self._handle(index)
        try:
            slots = int(nvml.nvmlDeviceGetMaxMigDeviceCount(handle))
        except nvml.NVMLError:  # NOT_SUPPORTED on GPUs without MIG, or an older driver
            return ()
        uuids = []
        for slot in range(slots):
            try:
                mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
            except nvml.NVMLError:  # an empty slot
                continue
            uuids.append(_text(nvml.nvmlDeviceGetUUID(mig)))
        return tuple(uuids)

    def driver_version(self) -> str:
        return _text(self._nvml.nvmlSystemGetDriverVersion())

    def memory_total_bytes(self, index: int) -> int:
        return int(self._nvml.nvmlDeviceGetMemoryInfo(self._handle(index)).total)

    def memory_used_bytes(self, index: int) -> int:
        return int(self._nvml.nvmlDeviceGetMemoryInfo(self._handle(index)).used)

    def process_memory(self, index: int, pid: int) -> ProcessMemory:
        """Not listed: no CUDA context there yet, or a PID namespace (a container) hides it."""
        processes = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle(index))
        listed, used_bytes, others = False, None, 0
        for process in processes:
            if process.pid != pid:
                others += 1
            elif not listed:
                listed = True
                used = process.usedGpuMemory  # None: NVML_VALUE_NOT_AVAILABLE
                used_bytes = None if used is None else int(used)
        return ProcessMemory(listed, used_bytes, others)

    def process_used_bytes(self, index: int, pid: int) -> int | None:
        return self.process_memory(index, pid).used_bytes

    def energy_mj(self, index: int) -> int | None:
        """Millijoules since the driver loaded; None where the GPU has no counter (pre-Volta)."""
        try:
            return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle(index)))
        except self._nvml.NVMLError_NotSupported:
            return None


# -- which NVML device is the framework's GPU i ----------------------------------------------


def _uuid_key(text: str) -> str:
    return text.strip().lower()


def visible_nvml_indices(
    nvml_uuids: Sequence[str],
    cuda_visible_devices: str | None,
    mig_parents: Mapping[str, str] | None = None,
) -> list[int]:
    """NVML index of each GPU CUDA shows the process, in CUDA's order (a framework's GPU *i* is
    entry *i*).

    ``nvml_uuids`` are the devices' UUIDs in NVML index order (``GPU-...``). Entries of
    ``CUDA_VISIBLE_DEVICES`` may be indices (NVML's and CUDA's agree under
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, which mgbench sets), unique prefixes of ``GPU-<uuid>``, or
    MIG instances (``MIG-<uuid>``, found through ``mig_parents``: MIG UUID -> its GPU's UUID; or
    the older ``MIG-GPU-<uuid>/<gi>/<ci>``): a MIG instance maps to its physical GPU. Unset: every
    device; empty or ``-1``: none. An entry that names no device is a :class:`ValueError` (CUDA
    would silently drop it and every entry after it).
    """
    if cuda_visible_devices is None:
        return list(range(len(nvml_uuids)))
    if cuda_visible_devices.strip() in ("", "-1"):
        return []
    keys = [_uuid_key(uuid) for uuid in nvml_uuids]
    parents = {_uuid_key(k): _uuid_key(v) for k, v in (mig_parents or {}).items()}
    found: list[int] = []
    seen: set[str] = set()
    for raw in cuda_visible_devices.split(","):
        entry = raw.strip()
        index = _visible_entry(entry, keys, parents, cuda_visible_devices)
        if entry.lower() in seen:
            raise ValueError(
                f"CUDA_VISIBLE_DEVICES={cuda_visible_devices!r}: {entry!r} is listed twice"
            )
        seen.add(entry.lower())
        found.append(index)
    return found


def _visible_entry(entry: str, keys: list[str], parents: dict[str, str], whole: str) -> int:
    where = f"CUDA_VISIBLE_DEVICES={whole!r}"
    if entry.isdigit():
        index = int(entry)
        if index >= len(keys):
            raise ValueError(f"{where}: index {index} is beyond NVML's {len(keys)} device(s)")
        return index
    key = entry.lower()
    if key.startswith("mig-gpu-"):  # the pre-R470 form MIG-GPU-<uuid>/<gi>/<ci>
        key = key.removeprefix("mig-").split("/", 1)[0]
    elif key.startswith("mig-"):
        if key not in parents:
            raise ValueError(f"{where}: MIG instance {entry!r} is on no GPU NVML lists")
        key = parents[key]
    if not key.startswith("gpu-"):
        raise ValueError(
            f"{where}: {entry!r} is neither an index, a GPU-<uuid> nor a MIG-<uuid> entry"
        )
    matches = [index for index, uuid in enumerate(keys) if uuid.startswith(key)]
    if not matches:
        raise ValueError(f"{where}: no NVML device has a UUID starting {entry!r}")
    if len(matches) > 1:
        raise ValueError(f"{where}: {entry!r} is the start of {len(matches)} devices' UUIDs")
    return matches[0]


def visible_gpu_indices(nvml: Nvml, cuda_visible_devices: str | None = None) -> list[int]:
    """:func:`visible_nvml_indices` for this process: NVML's UUIDs and ``CUDA_VISIBLE_DEVICES``
    (read from the environment unless given). Raises ValueError for an entry naming no device."""
    if cuda_visible_devices is None:
        cuda_visible_devices = os.environ.get("CUDA_VISIBLE_DEVICES")
    count = nvml.device_count()
    uuids = [nvml.device_uuid(index) for index in range(count)]
    mig_parents: dict[str, str] = {}
    if cuda_visible_devices is not None and "mig-" in cuda_visible_devices.lower():
        for index in range(count):  # asked only when needed: MIG queries are slow on big nodes
            mig_parents.update(dict.fromkeys(nvml.mig_uuids(index), uuids[index]))
    return visible_nvml_indices(uuids, cuda_visible_devices, mig_parents)


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
        nvml = open_nvml()
    except NvmlUnavailable:
        return 0
    try:
        return len(visible_gpu_indices(nvml, visible))
    except ValueError:  # CUDA keeps the entries before the first bad one; count as before
        entries = [v for v in (visible or "").split(",") if v.strip()]
        return min(nvml.device_count(), len(entries))


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
                f"  {index}: {nvml.device_name(index)} {nvml.device_uuid(index)}, "
                f"{used:,.0f} / {total:,.0f} MiB used"
            )
        try:
            mapping = visible_gpu_indices(nvml)
        except ValueError as problem:
            lines.append(f"  TF GPU -> NVML index: unknown ({problem})")
        else:
            shown = ", ".join(f"GPU:{i} -> {index}" for i, index in enumerate(mapping))
            lines.append(f"  TF GPU -> NVML index (by UUID): {shown or 'no GPU visible'}")
    if gpus:
        lines.append("Runs use the GPUs (memory growth on); --virtual-gpus N splits the first one.")
    else:
        lines.append(
            "No GPU: runs simulate replicas as logical CPUs (CPU:1..N; CPU:0 is the host). "
            "This tests correctness and placement, not the speed claim."
        )
    return "\n".join(lines)

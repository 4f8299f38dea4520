"""Device discovery and simulation: the only module that configures TensorFlow's devices.

Simulation must happen before the TensorFlow runtime starts (the first op, or the first device
listing that initialises it), so :func:`simulate` is meant to be the first thing a process does.
On a CPU-only machine the host stays ``CPU:0`` and replicas are the extra logical CPUs, so a
replica is never the device where the input batch lives.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mgbench.platform import lazy
from mgbench.vocabulary import DeviceMode

HOST_DEVICE = "/device:CPU:0"

_DEVICE_RE = re.compile(r"(?:^|/)device:([A-Za-z_]+):(\d+)$|(?:^|/)([A-Za-z_]+):(\d+)$")


def short_name(device: str) -> str:
    """``'/job:localhost/replica:0/task:0/device:GPU:1'`` -> ``'GPU:1'``; ``''`` stays ``''``."""
    if not device:
        return ""
    match = _DEVICE_RE.search(device.strip())
    if match is None:
        raise ValueError(f"not a device name: {device!r}")
    kind, index = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
    return f"{kind.upper()}:{index}"


def simulate(n: int, kind: str = "cpu", memory_limit_mb: int | None = None) -> list[str]:
    """Split this process's hardware into ``n`` replica devices; returns their names.

    ``kind="cpu"``: ``n + 1`` logical CPUs, ``CPU:0`` stays the host and ``CPU:1..n`` are the
    replicas. ``kind="gpu"``: ``n`` logical GPUs on the first physical GPU, each limited to
    ``memory_limit_mb`` MiB (required: TensorFlow refuses virtual GPUs without a limit).
    Virtual GPUs share one chip: they show placement and copy overhead, not multi-chip speed-up.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"simulate: n must be a positive integer, got {n!r}")
    if kind not in ("cpu", "gpu"):
        raise ValueError(f"simulate: kind must be 'cpu' or 'gpu', got {kind!r}")
    tf = lazy.tensorflow()
    if kind == "cpu":
        physical = tf.config.list_physical_devices("CPU")[0]
        configs = [tf.config.LogicalDeviceConfiguration() for _ in range(n + 1)]
        names = [f"/device:CPU:{i}" for i in range(1, n + 1)]
    else:
        if memory_limit_mb is None or memory_limit_mb <= 0:
            raise ValueError(
                "simulate(kind='gpu') needs memory_limit_mb > 0: TensorFlow requires a memory "
                "limit for every virtual GPU"
            )
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            raise ValueError("simulate(kind='gpu'): this machine has no physical GPU to split")
        physical = gpus[0]
        configs = [
            tf.config.LogicalDeviceConfiguration(memory_limit=memory_limit_mb) for _ in range(n)
        ]
        names = [f"/device:GPU:{i}" for i in range(n)]
    try:
        tf.config.set_logical_device_configuration(physical, configs)
    except RuntimeError as error:
        raise RuntimeError(
            "mgbench.devices.simulate() was called after the TensorFlow runtime started "
            f"({error}). Call it first in the process, before any model, tensor or device "
            "listing; mgbench's runner does this in a fresh process per cell."
        ) from error
    return names


def prepare(replicas: int, *, virtual_gpus: int = 0, virtual_gpu_memory_mb: int = 0) -> DeviceMode:
    """Configure this fresh process's devices for a run; returns the mode it chose.

    ``GPU``: real GPUs, memory growth on. ``VIRTUAL_GPU``: the first GPU split in
    ``virtual_gpus`` parts. ``CPU_SIMULATION``: no GPU, so ``replicas`` logical CPUs beside the
    host (at least one, so ``single`` also runs off the host's own device slot).
    """
    tf = lazy.tensorflow()
    if tf.config.list_physical_devices("GPU"):
        if virtual_gpus:
            simulate(virtual_gpus, kind="gpu", memory_limit_mb=virtual_gpu_memory_mb)
            return DeviceMode.VIRTUAL_GPU
        enable_memory_growth()
        return DeviceMode.GPU
    if virtual_gpus:
        raise ValueError("virtual GPUs were asked for, but this machine has no GPU")
    simulate(max(replicas, 1))
    return DeviceMode.CPU_SIMULATION


def already_configured() -> bool:
    """True when this process's devices were set up already (simulated, split or grown).

    Reading the configuration does not start the TF runtime, so this is safe to ask first.
    """
    tf = lazy.tensorflow()
    if tf.config.get_logical_device_configuration(tf.config.list_physical_devices("CPU")[0]):
        return True
    return any(
        tf.config.get_logical_device_configuration(gpu)
        or tf.config.experimental.get_memory_growth(gpu)
        for gpu in tf.config.list_physical_devices("GPU")
    )


def virtual_gpus_active() -> bool:
    """True when the first GPU is split into logical GPUs (by :func:`simulate`)."""
    tf = lazy.tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    return bool(gpus) and bool(tf.config.get_logical_device_configuration(gpus[0]))


def default_device() -> str:
    """Where TF's placer puts an op with no device: GPU:0 when a GPU exists, else the host."""
    tf = lazy.tensorflow()
    return "/device:GPU:0" if tf.config.list_logical_devices("GPU") else HOST_DEVICE


def enable_memory_growth() -> None:
    """Let TF grow GPU memory on demand, so NVML readings mean something (DESIGN §2.7).

    Virtual GPUs (a memory limit) exclude memory growth, so this skips GPUs that are split.
    """
    tf = lazy.tensorflow()
    for gpu in tf.config.list_physical_devices("GPU"):
        if tf.config.get_logical_device_configuration(gpu):
            continue
        tf.config.experimental.set_memory_growth(gpu, True)


def available_replica_devices() -> list[str]:
    """Every device a replica may use: all GPUs, else every logical CPU except the host."""
    tf = lazy.tensorflow()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if gpus:
        return gpus
    return [d.name for d in tf.config.list_logical_devices("CPU") if short_name(d.name) != "CPU:0"]


def expected_replica_name(index: int) -> str:
    """The short name replica ``index`` gets here: ``GPU:i`` with GPUs, else ``CPU:i+1``."""
    tf = lazy.tensorflow()
    return f"GPU:{index}" if tf.config.list_logical_devices("GPU") else f"CPU:{index + 1}"


def replica_devices(n: int, *, minimum: int = 1) -> list[str]:
    """The first ``n`` replica devices; a ValueError names what was asked and what exists."""
    available = available_replica_devices()
    shown = [short_name(d) for d in available] or "none"
    if n < minimum:
        raise ValueError(
            f"asked for {n} replica device(s), but at least {minimum} are needed; "
            f"available replica devices: {shown}"
        )
    if n > len(available):
        raise ValueError(
            f"asked for {n} replica devices, but only {len(available)} are available: "
            f"{shown}. On a machine without enough GPUs call "
            f"mgbench.devices.simulate({n}) first in the process (logical CPUs), or "
            f"simulate({n}, kind='gpu', memory_limit_mb=...) to split one GPU."
        )
    return available[:n]


def check_devices_exist(devices: Sequence[str], *, purpose: str) -> list[str]:
    """Canonical names of ``devices``; a ValueError lists expected and available devices."""
    tf = lazy.tensorflow()
    logical = {short_name(d.name): d.name for d in tf.config.list_logical_devices()}
    missing = [d for d in devices if short_name(d) not in logical]
    if missing:
        raise ValueError(
            f"{purpose}: expected devices {list(devices)} to exist, but {missing} do not. "
            f"Available devices: {sorted(logical)}"
        )
    return [logical[short_name(d)] for d in devices]

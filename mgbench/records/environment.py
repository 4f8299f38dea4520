"""Where a record was measured: the host and TF environment, and the machine's identity.

Records from different machines or versions must not be compared silently: their identity
(host, CPU, GPUs, device mode, versions) tells them apart.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import mgbench
from mgbench import vocabulary
from mgbench.records.record import Record
from mgbench.vocabulary import DeviceMode

MachineIdentity = tuple[str, ...]


class MixedResultsError(ValueError):
    """Records come from different machines or versions; the message lists them."""


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            cwd=Path(mgbench.__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


FRAMEWORKS = ("tensorflow", "keras", "tf-keras", "jax", "jaxlib")
GPU_MODES = vocabulary.GPU_MODES  # the device modes whose records ran on GPUs


def installed_version(*distributions: str) -> str | None:
    """The version of the first of ``distributions`` installed, from its metadata (nothing is
    imported); None when none is."""
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def installed_versions() -> dict[str, str | None]:
    """The frameworks' installed versions."""
    return {name: installed_version(name) for name in FRAMEWORKS}


def host_environment() -> dict[str, Any]:
    """What the launcher knows without TensorFlow: host, CPU, Python, mgbench, git, and the
    frameworks' installed versions."""
    import psutil

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "python": sys.version.split()[0],
        "mgbench": mgbench.__version__,
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
        "packages": installed_versions(),
    }


def _versions(record: Record) -> dict[str, str | None]:
    """Framework versions: installed ones where the record has them (the same for a jax cell,
    which imports no TensorFlow, as for a TF cell of the same run), else what its worker saw."""
    env = record.environment
    if env.packages is not None:
        return env.packages
    return {"tensorflow": env.tensorflow, "keras": env.keras}


def machine_identity(record: Record) -> MachineIdentity:
    env = record.environment
    gpus = ",".join(sorted(name or "?" for name in env.gpu_names()))
    versions = _versions(record)
    jax = (f"jax={versions['jax']}",) if versions.get("jax") else ()
    return (
        f"host={env.host}",
        f"cpu={env.cpu}",
        f"gpus={gpus or 'none'}",
        f"devices={record.device_mode}",
        f"tensorflow={versions.get('tensorflow')}",
        f"keras={versions.get('keras')}",
        *jax,
        f"mgbench={env.mgbench}",
    )


def identities(records: Iterable[Record]) -> list[MachineIdentity]:
    """The distinct machines (and versions) of the successful records, in order of appearance."""
    seen: list[MachineIdentity] = []
    for record in records:
        if not record.ok:
            continue
        identity = machine_identity(record)
        if identity not in seen:
            seen.append(identity)
    return seen


def check_not_mixed(records: Sequence[Record], allow_mixed: bool) -> list[str]:
    """Refuse records from different machines or versions; with ``allow_mixed``, a note."""
    found = identities(records)
    if len(found) <= 1:
        return []
    listing = "; ".join(" ".join(identity) for identity in found)
    if not allow_mixed:
        raise MixedResultsError(
            f"results come from {len(found)} different machines or versions ({listing}); "
            "comparing them mixes hardware with code. Pass --allow-mixed to do it anyway."
        )
    return [f"MIXED: results from {len(found)} machines or versions are merged: {listing}"]


def machine_label(records: Iterable[Record]) -> str:
    """One line per machine of the successful records, for a reader."""
    labels = []
    for record in records:
        env = record.environment
        gpus = [name or "GPU" for name in env.gpu_names()]
        hardware = ", ".join(sorted(set(gpus))) if gpus else _or_unknown(env.cpu)
        installed = _versions(record)
        tf, keras = (_or_unknown(installed.get(name)) for name in ("tensorflow", "keras"))
        jax = f", JAX {installed['jax']}" if installed.get("jax") else ""
        versions = f"TF {tf}, Keras {keras}{jax}"
        mode = record.device_mode or "?"
        label = f"{_or_unknown(env.host)} ({hardware}; {mode}; {versions})"
        if label not in labels and record.ok:
            labels.append(label)
    return "; ".join(labels) or "unknown machine"


def _or_unknown(value: str | None) -> str:
    return "?" if value is None else value


def is_cpu_simulation(records: Iterable[Record]) -> bool:
    """Any record measured on a CPU simulation (no GPU: every device is host memory)."""
    return any(r.device_mode == DeviceMode.CPU_SIMULATION for r in records)


def is_virtual_gpu(records: Iterable[Record]) -> bool:
    """Any record measured on virtual GPUs of one chip."""
    return any(r.device_mode == DeviceMode.VIRTUAL_GPU for r in records)

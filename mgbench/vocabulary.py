"""The words every room shares, each defined once: strategies, device modes and backends.

The bottom floor: it imports nothing of mgbench and no framework, so any room may use it. A new
strategy is one member of :class:`Strategy` (plus the backends that run it, below, and its
implementation); a new backend is one entry of :data:`BACKENDS` (plus its module in
``mgbench/backends/``). ``config`` validates suites against these declarations and the
``backends`` registry builds what they name, so neither has to import the other.

The enums are ``StrEnum``: a member equals, hashes, formats, serialises and (here) reprs as its
text, so records, suite files and messages read as they did with plain strings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum


class _Word(StrEnum):
    def __repr__(self) -> str:
        return repr(self.value)


class Strategy(_Word):
    """How a cell spreads training over its replicas."""

    SINGLE = "single"  # one device: what every speed-up is measured against
    INPLACE = "inplace"  # MultiGpuModel: each replica's slice cut where the batch lives
    # Keras 2.0.9-2.1.6's multi_gpu_model, the split PR #10230 replaced: each replica cuts its
    # slice on its own device, so the whole batch is copied to every replica.
    WHOLEBATCH = "wholebatch"
    CONCAT = "concat"  # ParallelModel: one split on the default device, towers per replica
    MIRRORED = "mirrored"  # tf.distribute.MirroredStrategy
    MULTIWORKER = "multiworker"  # tf.distribute.MultiWorkerMirroredStrategy, several processes
    DATAPARALLEL = "dataparallel"  # keras.distribution.DataParallel (Keras 3 on JAX)


STRATEGIES: tuple[Strategy, ...] = tuple(Strategy)
# The wrappers: they wrap a template without owning it, so several can share one template in
# one process (a paired cell); the others build their own model. The claim's pair first.
WRAPPERS: tuple[Strategy, ...] = (Strategy.INPLACE, Strategy.WHOLEBATCH, Strategy.CONCAT)
# Strategies whose cells may span several processes (a suite's ``workers``).
MULTIPROCESS: tuple[Strategy, ...] = (Strategy.MULTIWORKER, Strategy.DATAPARALLEL)


class DeviceMode(_Word):
    """What a worker's replicas were (a record's ``device_mode``)."""

    GPU = "gpu"  # real GPUs, one per replica
    VIRTUAL_GPU = "virtual-gpu"  # the first GPU split into logical GPUs on one chip
    CPU_SIMULATION = "cpu-simulation"  # no GPU: logical CPUs beside the host, on the same cores
    # A test session's process whose devices someone else configured, with GPUs present.
    GPU_CONFIGURED_ELSEWHERE = "gpu (configured elsewhere)"


# The device modes whose records ran on GPUs.
GPU_MODES: tuple[DeviceMode, ...] = (DeviceMode.GPU, DeviceMode.VIRTUAL_GPU)


@dataclass(frozen=True)
class BackendEntry:
    """A backend as the rooms below ``backends`` need to know it, without importing it."""

    name: str
    strategies: tuple[Strategy, ...]  # what it can build and time
    framework: str  # the package whose version says what measured its records
    implementation: str  # "module:Class", imported only when the backend is asked for
    # Why a strategy runs on this backend only (a suite that lists it elsewhere is told).
    only_here: tuple[tuple[Strategy, str], ...] = ()


BACKENDS: dict[str, BackendEntry] = {
    entry.name: entry
    for entry in (
        BackendEntry(
            name="keras3",
            strategies=(Strategy.SINGLE, *WRAPPERS, Strategy.MIRRORED),
            framework="tensorflow",
            implementation="mgbench.backends.keras3:Keras3Backend",
        ),
        BackendEntry(
            name="tf_keras",
            strategies=(Strategy.SINGLE, *WRAPPERS, Strategy.MIRRORED, Strategy.MULTIWORKER),
            framework="tensorflow",
            implementation="mgbench.backends.tf_keras:TfKerasBackend",
            only_here=(
                (
                    Strategy.MULTIWORKER,
                    "Keras 3 cannot fit under MultiWorkerMirroredStrategy: keras-team/keras "
                    "issue 20585",
                ),
            ),
        ),
        BackendEntry(
            name="jax",
            strategies=(Strategy.SINGLE, Strategy.DATAPARALLEL),
            framework="jax",
            implementation="mgbench.backends.jax_keras:JaxBackend",
            only_here=(
                (Strategy.DATAPARALLEL, "keras.distribution.DataParallel is Keras 3 on JAX"),
            ),
        ),
    )
}
BACKEND_NAMES: tuple[str, ...] = tuple(BACKENDS)
DEFAULT_BACKEND = "keras3"


def backends_running(strategy: str) -> tuple[str, ...]:
    """The backends that run ``strategy``, in :data:`BACKENDS` order."""
    return tuple(name for name, entry in BACKENDS.items() if strategy in entry.strategies)


def why_only(strategy: str) -> str | None:
    """Why ``strategy`` runs on the backends that run it only, where that is said."""
    for entry in BACKENDS.values():
        for only, reason in entry.only_here:
            if only == strategy:
                return reason
    return None


class DeprecatedName(FutureWarning):
    """A user-facing name (a suite key, a command) that was renamed: the old one still works,
    and the command line says so once, as ``mgbench: warning: ...``."""


def deprecated(old: str, new: str, where: str = "") -> None:
    """Say that ``old`` is read as ``new`` (``where``: the file and table it was found in)."""
    place = f"{where}: " if where else ""
    warnings.warn(
        f"{place}{old} is deprecated, use {new} (read as {new} this time)",
        DeprecatedName,
        stacklevel=3,
    )

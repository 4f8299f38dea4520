"""What every backend offers the worker, the placement command and the pytest cell.

A backend owns everything that depends on the framework: process set-up, building and compiling a
strategy, tracing its placement, the input pipeline, the training loop and the framework's own
memory statistics. Callers hold only the values defined here, so this module imports no
TensorFlow (a JAX backend must be able to implement it without one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mgbench.vocabulary import DeviceMode, Strategy

if TYPE_CHECKING:
    from mgbench.placement import PlacementReport, TracedStep
    from mgbench.trackers.timing import StepTimer, StepTiming

# Built.weights_device when every replica holds a copy of the weights
MIRRORED_WEIGHTS = Strategy.MIRRORED.value


class CellSkipped(Exception):
    """This cell cannot run on this machine; the message is the recorded reason."""


class ModelSpec(Protocol):
    """What a backend needs to know to build a strategy (a suite's ``Cell`` is one)."""

    @property
    def model(self) -> str: ...
    @property
    def image_size(self) -> int: ...
    @property
    def classes(self) -> int: ...
    @property
    def strategy(self) -> str: ...
    @property
    def replicas(self) -> int: ...
    @property
    def batch_per_replica(self) -> int: ...
    @property
    def weights(self) -> str: ...
    @property
    def input(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def global_batch(self) -> int: ...
    @property
    def workers(self) -> int: ...  # processes of a multiworker cell (1 otherwise)


@dataclass(frozen=True)
class BuildSpec:
    """A :class:`ModelSpec` for callers without a suite cell (placement command, pytest cell)."""

    model: str = "TinyCNN"
    image_size: int = 32
    classes: int = 10
    strategy: str = Strategy.INPLACE
    replicas: int = 2
    batch_per_replica: int = 4
    weights: str = "cpu"
    input: str = "host"
    dtype: str = "float32"
    workers: int = 1

    @property
    def global_batch(self) -> int:
        return self.batch_per_replica * self.replicas


@dataclass(frozen=True)
class DeviceSetup:
    """How a backend configured this process's devices."""

    mode: DeviceMode  # recorded as the record's device_mode
    has_gpus: bool  # physical GPUs are visible, so NVML is worth opening
    split_first_gpu: bool = False  # virtual GPUs share the first chip: NVML watches that one


@dataclass(frozen=True)
class Built:
    """A compiled strategy: the model to train and where its parts live."""

    model: Any
    replica_devices: tuple[str, ...]
    weights_device: str  # or MIRRORED_WEIGHTS
    distribution: Any = None  # the framework's distribution strategy to compile under, if any
    strategy: str = ""

    def scope(self) -> Any:
        return self.distribution.scope() if self.distribution is not None else nullcontext()


@runtime_checkable
class Backend(Protocol):
    """One framework's way to run a cell. Get one with :func:`mgbench.backends.get`."""

    name: str
    strategies: tuple[Strategy, ...]  # what it builds and times (vocabulary.BACKENDS)

    def keras(self) -> ModuleType:
        """The Keras module models are built with."""
        ...

    def prepare_process(
        self,
        replicas: int,
        *,
        virtual_gpus: int = 0,
        virtual_gpu_memory_mb: int = 0,
        multiworker: bool = False,
    ) -> DeviceSetup:
        """Configure a fresh process's devices; the first thing a worker does. ``replicas`` are
        this process's; ``multiworker``: it is one process of a multi-process cell (tf.distribute
        or keras.distribution)."""
        ...

    def prepare_shared_process(self, replicas: int) -> DeviceSetup:
        """Configure devices in a process that others share (a test session): devices made
        before this call are kept, and a runtime that already started is used as it is."""
        ...

    def check_runnable(self, spec: ModelSpec, virtual_gpus: int) -> None:
        """Raise :class:`CellSkipped` with the reason when this machine cannot run ``spec``."""
        ...

    def check_pairable(self, spec: ModelSpec, strategies: Sequence[str]) -> None:
        """Raise :class:`CellSkipped` with the reason when this backend cannot train
        ``strategies`` (two or more) in turn in one process (a paired cell). Imports no
        framework."""
        ...

    def check_steppable(self, spec: ModelSpec) -> None:
        """Raise :class:`CellSkipped` with the reason when this backend offers no per-step
        function (which the profiler runs). Imports no framework."""
        ...

    def build_compiled(self, spec: ModelSpec) -> Built:
        """Build ``spec.strategy`` over ``spec.replicas`` devices and compile it for training."""
        ...

    def build_many(self, spec: ModelSpec, strategies: Sequence[str]) -> tuple[Built, ...]:
        """Build several wrapper strategies over ONE template on the same replica devices, each
        compiled on its own, so they can be trained alternately in this process."""
        ...

    def trace_step(self, built: Built, x: Any, y: Any) -> tuple[TracedStep | None, str | None]:
        """One training step on the batch ``(x, y)``, traced (nothing runs) into plain ops for
        the placement and transfer audits; None and why when the strategy's placement is not
        mgbench's to trace."""
        ...

    def watch_step(self, built: Built) -> None:
        """Before ``fit``: keep the training step ``fit`` is about to trace, for
        :meth:`fitted_step` (so the audit costs no second trace)."""
        ...

    def fitted_step(self, spec: ModelSpec, built: Built) -> tuple[TracedStep | None, str | None]:
        """After ``fit``: the step it traced (see :meth:`watch_step`) as plain ops; None and why
        when the strategy's placement is not mgbench's to trace."""
        ...

    def trace_placement(
        self, built: Built, x: Any, y: Any
    ) -> tuple[PlacementReport | None, str | None]:
        """The placement of :meth:`trace_step`'s step (same None and reason)."""
        ...

    def dataset(self, spec: ModelSpec, built: Built) -> Any:
        """The synthetic input pipeline a timed run trains on."""
        ...

    def fit_timed(self, built: Built, dataset: Any, timer: StepTimer) -> StepTiming:
        """Train ``timer.total_steps`` steps with the framework's own loop, timing each."""
        ...

    def step_function(self, spec: ModelSpec, built: Built) -> Callable[[], float]:
        """One training step per call, synced by reading its loss (returned)."""
        ...

    def reset_memory_peaks(self) -> None:
        """Start the framework's per-device peak memory statistics afresh."""
        ...

    def memory_peaks(
        self, cell_devices: Sequence[str] | None = None
    ) -> tuple[dict[str, int] | None, str | None]:
        """Peak bytes per GPU since the last reset, for ``cell_devices`` (the cell's replicas and
        weights device; None: every GPU); None and why when there are none."""
        ...

    def environment(self, nvml: Any | None) -> dict[str, Any]:
        """Versions and devices only this process knows (framework, CUDA build, GPUs)."""
        ...

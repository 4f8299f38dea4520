"""The jax backend: Keras 3 on JAX, ``single`` or ``keras.distribution.DataParallel``.

It answers what data parallelism costs when the framework's compiler owns the step: XLA compiles
the whole training step for the devices of a mesh and places every op and transfer itself, so
mgbench's wrappers, placement trace and transfer audit (TF graphs) have nothing to read here.

``single`` trains on the first device. ``dataparallel`` replicates the weights on every replica
and splits each global batch between them; the gradients are all-reduced inside the compiled
step. A cell with ``workers`` > 1 runs one process per worker (``keras.distribution.initialize``,
peers from the launcher's TF_CONFIG on loopback): each process owns ``replicas // workers``
devices and feeds its own rows of the global batch. Without GPUs the replicas are host devices
(``--xla_force_host_platform_device_count``) and processes talk through gloo.

Nothing on this path imports TensorFlow: a jax worker must run where TF is absent (or broken)
and must not pay TF's start-up or memory inside its measurements.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mgbench import models
from mgbench.backends.base import MIRRORED_WEIGHTS, Built, CellSkipped, DeviceSetup, ModelSpec
from mgbench.platform import cluster, hardware, lazy
from mgbench.vocabulary import BACKENDS, DeviceMode, Strategy

if TYPE_CHECKING:
    from mgbench.placement import PlacementReport, TracedStep
    from mgbench.trackers.timing import StepTimer, StepTiming

LEARNING_RATE = 0.01  # as the TensorFlow backends: cells differ by framework, not by optimizer
XLA_PLACEMENT_REASON = (
    "jax: XLA compiles the whole training step for its devices and places every op and transfer "
    "itself, so mgbench's op-by-op placement and transfer audits (TF graphs) do not apply"
)
JAX_PEAK_CPU_REASON = "JAX memory statistics exist only for GPUs (CPU simulation)"
JAX_PEAK_NO_RESET_REASON = (
    "JAX cannot reset its peak: peak_bytes_in_use since the process started (build, compile and "
    "the untimed steps included)"
)
PAIRED_REASON = (
    "a paired process shares one template between the TF wrappers; the jax backend has none"
)
STEPPABLE_REASON = (
    "the profiler runs TensorFlow's profiler over a per-step function; the jax backend offers "
    "neither"
)
VIRTUAL_GPU_REASON = "virtual GPUs are TensorFlow's; the jax backend does not split a GPU"
_FORCE_HOST_DEVICES = "--xla_force_host_platform_device_count"


def _with_host_device_count(xla_flags: str, count: int) -> str:
    """``xla_flags`` with the host device count set to ``count`` (other flags kept)."""
    kept = [flag for flag in xla_flags.split() if not flag.startswith(_FORCE_HOST_DEVICES)]
    return " ".join([*kept, f"{_FORCE_HOST_DEVICES}={count}"])


def _jax() -> ModuleType:
    import jax

    return jax


def _jax_started() -> bool:
    """JAX's runtime has started: device settings made now would be ignored."""
    from jax._src import xla_bridge

    return bool(xla_bridge.backends_are_initialized())


def _is_gpu(device: Any) -> bool:
    return device.platform in ("gpu", "cuda", "rocm")


def _short_name(device: Any, local_index: int) -> str:
    """TF's naming (``GPU:i``: the i-th device this process sees), so records compare."""
    return f"{'GPU' if _is_gpu(device) else device.platform.upper()}:{local_index}"


def _local_short_names(devices: Sequence[Any]) -> tuple[str, ...]:
    local = _jax().local_devices()
    return tuple(_short_name(d, local.index(d)) for d in devices if d in local)


def _replica_devices(replicas_per_process: int) -> list[Any]:
    """The first ``replicas_per_process`` devices of every process, in process order: the mesh
    a cell's replicas form (one process: simply its first devices)."""
    jax = _jax()
    chosen: list[Any] = []
    for process in range(jax.process_count()):
        owned = [d for d in jax.devices() if d.process_index == process]
        chosen.extend(owned[:replicas_per_process])
    return chosen


class JaxBackend:
    """Keras 3 on JAX; see the module's docstring."""

    name = "jax"

    @property
    def strategies(self) -> tuple[Strategy, ...]:
        return BACKENDS[self.name].strategies

    def keras(self) -> ModuleType:
        return lazy.keras_jax()

    # -- process and devices -----------------------------------------------------------------

    def prepare_process(
        self,
        replicas: int,
        *,
        virtual_gpus: int = 0,
        virtual_gpu_memory_mb: int = 0,
        multiworker: bool = False,
    ) -> DeviceSetup:
        if virtual_gpus:
            raise CellSkipped(VIRTUAL_GPU_REASON)
        gpus = hardware.gpu_count()
        if not gpus:
            # JAX reads both when its runtime starts, which is below: the replicas become
            # host devices, and no GPU plugin is probed.
            os.environ["JAX_PLATFORMS"] = "cpu"
            os.environ["XLA_FLAGS"] = _with_host_device_count(
                os.environ.get("XLA_FLAGS", ""), max(replicas, 1)
            )
        else:
            # Like TF's memory growth (the TF backends turn it on): without it JAX takes 75% of
            # each GPU at start and NVML's process figure says nothing about the cell.
            os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        keras = self.keras()  # loading the framework is set-up, not part of the timed build
        jax = _jax()
        if multiworker:
            if not gpus:
                # gloo is JAX's default for CPU collectives since 0.5.1; older ones had none.
                jax.config.update("jax_cpu_collectives_implementation", "gloo")
            if os.environ.get(cluster.CLUSTER_ENV) == "slurm":
                # jax.distributed finds a Slurm job's processes and coordinator by itself.
                keras.distribution.initialize()
            else:
                addresses, index = cluster.loopback_peers()
                keras.distribution.initialize(
                    job_addresses=",".join(addresses),
                    num_processes=len(addresses),
                    process_id=index,
                )
        has_gpus = any(_is_gpu(d) for d in jax.local_devices())
        if gpus and not has_gpus:
            raise RuntimeError(
                f"NVML sees {gpus} GPU(s) but this JAX runs on {jax.default_backend()!r}: "
                "install a CUDA build of JAX (jax[cuda12]) or hide the GPUs"
            )
        mode = DeviceMode.GPU if has_gpus else DeviceMode.CPU_SIMULATION
        return DeviceSetup(mode=mode, has_gpus=has_gpus)

    def prepare_shared_process(self, replicas: int) -> DeviceSetup:
        if "jax" not in sys.modules or not _jax_started():
            return self.prepare_process(replicas)
        jax = _jax()
        has_gpus = any(_is_gpu(d) for d in jax.local_devices())
        self.keras()
        return DeviceSetup(
            mode=DeviceMode.GPU_CONFIGURED_ELSEWHERE if has_gpus else DeviceMode.CPU_SIMULATION,
            has_gpus=has_gpus,
        )

    def check_runnable(self, spec: ModelSpec, virtual_gpus: int) -> None:
        if virtual_gpus:
            raise CellSkipped(VIRTUAL_GPU_REASON)
        if spec.strategy not in self.strategies:
            raise CellSkipped(
                f"the jax backend runs {', '.join(self.strategies)}, not {spec.strategy!r}"
            )
        jax = _jax()
        if spec.workers > 1 and spec.strategy != Strategy.DATAPARALLEL:
            raise CellSkipped(f"{spec.strategy!r} runs in one process; workers={spec.workers}")
        if spec.workers != jax.process_count():
            raise CellSkipped(
                f"{spec.workers} worker process(es) asked for, but JAX was started with "
                f"{jax.process_count()}"
            )
        per_process = spec.replicas // spec.workers
        local = jax.local_devices()
        if per_process > len(local):
            kind = "GPU(s)" if any(_is_gpu(d) for d in local) else "host device(s)"
            raise CellSkipped(
                f"{per_process} replicas per process asked for, but this process has "
                f"{len(local)} {kind}"
            )

    def check_pairable(self, spec: ModelSpec, strategies: Sequence[str]) -> None:
        raise CellSkipped(PAIRED_REASON)

    def check_steppable(self, spec: ModelSpec) -> None:
        raise CellSkipped(STEPPABLE_REASON)

    # -- building ----------------------------------------------------------------------------

    def build_compiled(self, spec: ModelSpec) -> Built:
        """Build ``spec.strategy`` and compile it the way every cell is (SGD, sparse categorical
        cross-entropy on logits), with XLA on: on JAX it is the compiler, not an option. The
        ``weights`` setting does not apply: the weights live on the replicas (as ``mirrored``)."""
        if spec.strategy not in self.strategies:
            raise ValueError(
                f"the jax backend builds {', '.join(self.strategies)}, not {spec.strategy!r}"
            )
        keras = self.keras()
        if spec.dtype != "float32":
            keras.mixed_precision.set_global_policy(spec.dtype)
        factory = models.model_factory(spec.model, keras)
        shape = models.input_shape(spec.image_size)
        if spec.strategy == Strategy.SINGLE:
            if spec.replicas != 1:
                raise ValueError(
                    f"strategy 'single' runs on one device, got replicas={spec.replicas}"
                )
            device = _jax().local_devices()[0]
            built = self._compiled(keras, factory, shape, spec.classes, None)
            name = _short_name(device, 0)
            return Built(built, (name,), name, None, Strategy.SINGLE)
        replica_devices = _replica_devices(spec.replicas // spec.workers)
        # Each process feeds its own rows (dataset()): Keras shards only tf.data by itself.
        distribution = keras.distribution.DataParallel(
            devices=replica_devices, auto_shard_dataset=False
        )
        model = self._compiled(keras, factory, shape, spec.classes, distribution)
        return Built(
            model,
            _local_short_names(replica_devices),
            MIRRORED_WEIGHTS,
            distribution,
            Strategy.DATAPARALLEL,
        )

    def _compiled(
        self,
        keras: ModuleType,
        factory: Callable[..., Any],
        shape: tuple[int, ...],
        classes: int,
        distribution: Any,
    ) -> Any:
        # Under the distribution's scope the variables are made replicated on its mesh; the
        # scope (not set_distribution) keeps another build in this process unaffected.
        with distribution.scope() if distribution is not None else nullcontext():
            model = factory(input_shape=shape, classes=classes)
            model.compile(
                optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATE),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                jit_compile=True,
            )
        return model

    def build_many(self, spec: ModelSpec, strategies: Sequence[str]) -> tuple[Built, ...]:
        raise ValueError(PAIRED_REASON)

    # -- placement: XLA's, not mgbench's -------------------------------------------------------

    def trace_step(self, built: Built, x: Any, y: Any) -> tuple[TracedStep | None, str | None]:
        return None, XLA_PLACEMENT_REASON

    def watch_step(self, built: Built) -> None:
        """Nothing to keep: there is no audit to feed (see :data:`XLA_PLACEMENT_REASON`)."""

    def fitted_step(self, spec: ModelSpec, built: Built) -> tuple[TracedStep | None, str | None]:
        return None, XLA_PLACEMENT_REASON

    def trace_placement(
        self, built: Built, x: Any, y: Any
    ) -> tuple[PlacementReport | None, str | None]:
        return None, XLA_PLACEMENT_REASON

    # -- input and training ------------------------------------------------------------------

    def dataset(self, spec: ModelSpec, built: Built) -> Iterator[tuple[Any, Any]]:
        """The synthetic global batch forever, as numpy in host memory (Keras copies it to the
        replicas every step, as TF's host pipeline does); one process of several yields only
        its own rows, which Keras assembles into the global batch across processes. ``input``
        does not apply (DataParallel splits the batch itself, as ``mirrored`` does)."""
        images, labels = models.synthetic_batch(spec.image_size, spec.classes, spec.global_batch)
        if spec.workers > 1:
            rows = spec.global_batch // spec.workers
            start = _jax().process_index() * rows
            images, labels = images[start : start + rows], labels[start : start + rows]

        def forever() -> Iterator[tuple[Any, Any]]:
            while True:
                yield images, labels

        return forever()

    def fit_timed(self, built: Built, dataset: Any, timer: StepTimer) -> StepTiming:
        """``fit`` under the distribution (Keras reads it at fit time, not from the model),
        each step synced by reading its loss, which waits for the device work."""
        from mgbench.trackers.timing import timed_fit

        with built.scope():
            return timed_fit(built.model, dataset, timer, self.keras())

    def step_function(self, spec: ModelSpec, built: Built) -> Callable[[], float]:
        raise ValueError(STEPPABLE_REASON)

    # -- memory and environment --------------------------------------------------------------

    def reset_memory_peaks(self) -> None:
        """Nothing to do: JAX offers no reset (:meth:`memory_peaks` says so in its reason)."""

    def memory_peaks(
        self, cell_devices: Sequence[str] | None = None
    ) -> tuple[dict[str, int] | None, str | None]:
        local = self._local_gpus()
        if cell_devices is not None:
            # Only the cell's own devices: an idle GPU's peak would pass for a replica's.
            wanted = set(cell_devices)
            local = [(name, d) for name, d in local if name in wanted]
        peaks = {}
        for name, device in local:
            stats = device.memory_stats() or {}
            if "peak_bytes_in_use" in stats:
                peaks[name] = int(stats["peak_bytes_in_use"])
        if not peaks:
            return None, JAX_PEAK_CPU_REASON if not local else "JAX reported no peak_bytes_in_use"
        return peaks, JAX_PEAK_NO_RESET_REASON

    def _local_gpus(self) -> list[tuple[str, Any]]:
        local = _jax().local_devices()
        return [(_short_name(d, i), d) for i, d in enumerate(local) if _is_gpu(d)]

    def environment(self, nvml: Any | None) -> dict[str, Any]:
        import jax
        import jaxlib

        keras = self.keras()
        gpus: list[dict[str, Any]] = [
            {"name": device.device_kind, "tf_device": None, "jax_device": name}
            for name, device in self._local_gpus()
        ]
        if nvml is not None:
            try:  # JAX's GPU i is CUDA's device i: NVML's by UUID, not by index
                indices = hardware.visible_gpu_indices(nvml)
            except ValueError:  # the worker recorded why (memory.nvml_reason)
                indices = []
            for gpu, index in zip(gpus, indices, strict=False):
                gpu["memory_bytes"] = nvml.memory_total_bytes(index)
        cuda_build, cudnn_build = _cuda_builds()
        return {
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "keras": keras.__version__,
            "tensorflow": None,
            "tf_keras": None,
            "cuda_build": cuda_build,
            "cudnn_build": cudnn_build,
            "gpus": gpus,
            "driver": nvml.driver_version() if nvml is not None else None,
        }


def _cuda_builds() -> tuple[str | None, str | None]:
    """The CUDA and cuDNN versions JAX's CUDA plugin was built with (None without one). JAX has
    no public call for them; the private module is read defensively."""
    try:
        from jax._src.lib import cuda_versions
    except ImportError:
        return None, None
    if cuda_versions is None:
        return None, None
    values: list[str | None] = []
    for getter in ("cuda_runtime_build_version", "cudnn_build_version"):
        try:
            values.append(str(getattr(cuda_versions, getter)()))
        except Exception:  # a renamed private call must not fail the cell
            values.append(None)
    return values[0], values[1]

"""What both TensorFlow backends share: devices, the build skeleton, compile settings, the input
pipeline, the timed loop, TF's allocator statistics and the environment.

A subclass says only what differs: its Keras module, how a wrapper is made, the optimizer, where
the bare template is built and how a training step's placement is read.

The strategies: ``single`` is the bare template on the default device (GPU:0 with GPUs, else
the host); ``inplace``, ``wholebatch`` and ``concat`` wrap the template over N replicas (the
wrappers differ per backend; several may share one template); ``mirrored`` is
``tf.distribute.MirroredStrategy``, NCCL on real GPUs and a reduction that works on virtual GPUs
and CPUs (NCCL refuses virtual GPUs). Its variables are mirrored on every replica, so the
``weights`` setting does not apply to it. ``multiworker`` is
``tf.distribute.MultiWorkerMirroredStrategy``: this process is one of ``workers`` processes
(peers from TF_CONFIG or Slurm, :mod:`mgbench.platform.cluster`), its replicas every GPU it sees
(one CPU without GPUs), gradients all-reduced by collectives (NCCL on GPUs, a ring on CPUs).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from mgbench import devices, models
from mgbench.backends.base import (
    MIRRORED_WEIGHTS,
    Built,
    CellSkipped,
    DeviceSetup,
    ModelSpec,
)
from mgbench.platform import cluster, hardware, lazy
from mgbench.records.environment import installed_version
from mgbench.vocabulary import (
    BACKENDS,
    STRATEGIES,
    WRAPPERS,
    DeviceMode,
    Strategy,
    backends_running,
    why_only,
)

if TYPE_CHECKING:
    from mgbench.placement import PlacementReport, TracedStep
    from mgbench.trackers.timing import StepTimer, StepTiming

LEARNING_RATE = 0.01
TF_PEAK_CPU_REASON = "TF allocator statistics exist only for GPUs (CPU simulation)"
MIRRORED_PLACEMENT_REASON = "MirroredStrategy: placement is tf.distribute's, not traced by mgbench"
MULTIWORKER_PLACEMENT_REASON = (
    "MultiWorkerMirroredStrategy: placement is tf.distribute's, not traced by mgbench"
)
MULTIWORKER_BACKEND_REASON = (
    f"MultiWorkerMirroredStrategy runs on the {' or '.join(backends_running(Strategy.MULTIWORKER))}"
    f" backend only: {why_only(Strategy.MULTIWORKER)}"
)
FIT_UNTRACED_REASON = "fit traced no training step to audit (no step ran?)"


def weights_device_name(weights: str) -> str:
    """``cpu`` -> the host; ``gpu0`` -> the first replica device (GPU:0 on a GPU machine)."""
    if weights == "cpu":
        return devices.HOST_DEVICE
    if weights == "gpu0":
        return devices.replica_devices(1)[0]
    raise ValueError(f"weights device must be 'cpu' or 'gpu0', got {weights!r}")


def cross_device_ops() -> Any:
    """NCCL (TF's default) on real GPUs; a copy-based all-reduce where NCCL cannot run."""
    tf = lazy.tensorflow()
    if not tf.config.list_logical_devices("GPU"):
        return tf.distribute.ReductionToOneDevice(reduce_to_device=devices.HOST_DEVICE)
    if devices.virtual_gpus_active():
        return tf.distribute.HierarchicalCopyAllReduce()
    return None


def _device_setup(mode: DeviceMode) -> DeviceSetup:
    tf = lazy.tensorflow()
    return DeviceSetup(
        mode=mode,
        has_gpus=bool(tf.config.list_physical_devices("GPU")),
        split_first_gpu=devices.virtual_gpus_active(),
    )


class TensorFlowBackend:
    """The skeleton of a TensorFlow backend; subclasses fill in the hooks at the bottom."""

    name = ""
    compile_options: ClassVar[dict[str, Any]] = {}  # extra compile() arguments

    @property
    def strategies(self) -> tuple[Strategy, ...]:
        return BACKENDS[self.name].strategies

    def keras(self) -> ModuleType:
        raise NotImplementedError

    # -- process and devices -----------------------------------------------------------------

    def prepare_process(
        self,
        replicas: int,
        *,
        virtual_gpus: int = 0,
        virtual_gpu_memory_mb: int = 0,
        multiworker: bool = False,
    ) -> DeviceSetup:
        if multiworker:
            return self._prepare_multiworker()
        mode = devices.prepare(
            replicas, virtual_gpus=virtual_gpus, virtual_gpu_memory_mb=virtual_gpu_memory_mb
        )
        self.keras()  # loading the framework is set-up, not part of the timed build phase
        return _device_setup(mode)

    def _prepare_multiworker(self) -> DeviceSetup:
        """A tf.distribute worker: its collectives must be configured before TF's runtime
        starts, so the strategy is made first, over the devices as they are (no simulated
        replicas: it takes every GPU the process sees, or the CPU)."""
        tf = lazy.tensorflow()
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            devices.enable_memory_growth()
        implementation = tf.distribute.experimental.CommunicationImplementation
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=implementation.NCCL if gpus else implementation.RING
        )
        self._multiworker_distribution = tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=cluster.cluster_resolver(), communication_options=options
        )
        self.keras()
        mode = DeviceMode.GPU if gpus else DeviceMode.CPU_SIMULATION
        return DeviceSetup(mode=mode, has_gpus=bool(gpus))

    def prepare_shared_process(self, replicas: int) -> DeviceSetup:
        if not devices.already_configured():
            try:
                return _device_setup(devices.prepare(replicas))
            except RuntimeError:
                pass  # the TF runtime started before us: use the devices it has
        gpu = bool(lazy.tensorflow().config.list_logical_devices("GPU"))
        return _device_setup(
            DeviceMode.GPU_CONFIGURED_ELSEWHERE if gpu else DeviceMode.CPU_SIMULATION
        )

    def check_runnable(self, spec: ModelSpec, virtual_gpus: int) -> None:
        gpus = lazy.tensorflow().config.list_physical_devices("GPU")
        if spec.strategy == Strategy.MULTIWORKER:
            self._check_multiworker(spec, len(gpus), virtual_gpus)
            return
        if gpus and spec.replicas > (virtual_gpus or len(gpus)):
            raise CellSkipped(
                f"{spec.replicas} replicas asked for, but this machine has "
                f"{virtual_gpus or len(gpus)} {'virtual ' if virtual_gpus else ''}GPU(s)"
            )

    def _check_multiworker(self, spec: ModelSpec, gpus: int, virtual_gpus: int) -> None:
        if Strategy.MULTIWORKER not in self.strategies:
            raise CellSkipped(MULTIWORKER_BACKEND_REASON)
        if virtual_gpus:
            raise CellSkipped(
                "multiworker cells do not run on virtual GPUs: NCCL refuses them, and every "
                "worker would split the same chip"
            )
        per_worker = spec.replicas // spec.workers
        # The strategy takes every GPU the worker sees, or the CPU alone when there is none.
        seen = gpus or 1
        if per_worker != seen:
            where = f"{gpus} GPU(s)" if gpus else "no GPU, so one CPU device"
            raise CellSkipped(
                f"{per_worker} replica(s) per worker asked for, but a worker here sees {where} "
                "(MultiWorkerMirroredStrategy uses all of them)"
            )

    def check_pairable(self, spec: ModelSpec, strategies: Sequence[str]) -> None:
        """Any number of wrappers share one template (:meth:`build_many`); nothing else does."""
        others = [s for s in strategies if s not in WRAPPERS]
        if others:
            raise CellSkipped(
                f"a paired process shares one template between wrappers "
                f"({', '.join(WRAPPERS)}), not {others[0]!r}"
            )

    def check_steppable(self, spec: ModelSpec) -> None:
        """Every strategy has a per-step function here; backends without one override this."""

    # -- building ----------------------------------------------------------------------------

    def build_compiled(self, spec: ModelSpec) -> Built:
        """Build ``spec.strategy`` over a named benchmark model and compile it the way every cell
        is: SGD, sparse categorical cross-entropy on logits, placement kept (XLA off)."""
        return self._build(spec, (spec.strategy,))[0]

    def build_many(self, spec: ModelSpec, strategies: Sequence[str]) -> tuple[Built, ...]:
        others = [s for s in strategies if s not in WRAPPERS]
        if not strategies or others:
            raise ValueError(
                f"build_many shares one template between wrappers ({', '.join(WRAPPERS)})"
                f", got {list(strategies)}; 'single' and 'mirrored' are built alone "
                "(build_compiled)"
            )
        return self._build(spec, tuple(strategies))

    def _build(self, spec: ModelSpec, strategies: tuple[str, ...]) -> tuple[Built, ...]:
        for strategy in strategies:
            if strategy not in STRATEGIES:
                raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
        if strategies != (Strategy.MULTIWORKER,):
            self.check_can_build()
        keras = self.keras()
        if spec.dtype != "float32":
            keras.mixed_precision.set_global_policy(spec.dtype)
        factory = models.model_factory(spec.model, keras)
        shape = models.input_shape(spec.image_size)

        def make_template() -> Any:
            return factory(input_shape=shape, classes=spec.classes)

        if strategies == (Strategy.MIRRORED,):
            built = [self._build_mirrored(make_template, spec.replicas)]
        elif strategies == (Strategy.MULTIWORKER,):
            built = [self._build_multiworker(make_template)]
        elif strategies == (Strategy.SINGLE,):
            if spec.replicas != 1:
                raise ValueError(
                    f"strategy 'single' runs on one device, got replicas={spec.replicas}"
                )
            built = [self._build_single(make_template, spec.weights)]
        else:
            built = self._build_wrappers(make_template, spec, strategies)
        for each in built:
            with each.scope():
                each.model.compile(
                    optimizer=self.optimizer(each),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    **self.compile_options,
                )
        return tuple(built)

    def _build_mirrored(self, make_template: Callable[[], Any], replicas: int) -> Built:
        tf = lazy.tensorflow()
        replica_names = tuple(devices.replica_devices(replicas, minimum=2))
        distribution = tf.distribute.MirroredStrategy(
            devices=list(replica_names), cross_device_ops=cross_device_ops()
        )
        with distribution.scope():
            template = make_template()
        return Built(template, replica_names, MIRRORED_WEIGHTS, distribution, Strategy.MIRRORED)

    def _build_multiworker(self, make_template: Callable[[], Any]) -> Built:
        distribution = getattr(self, "_multiworker_distribution", None)
        if distribution is None:
            raise RuntimeError(
                "a multiworker cell is built in a worker process prepared for it: "
                "prepare_process(..., multiworker=True) first"
            )
        with distribution.scope():
            template = make_template()
        local = tuple(devices.short_name(d) for d in distribution.extended.worker_devices)
        return Built(template, local, MIRRORED_WEIGHTS, distribution, Strategy.MULTIWORKER)

    def _build_single(self, make_template: Callable[[], Any], weights: str) -> Built:
        tf = lazy.tensorflow()
        device = self.bare_template_device(weights)
        with tf.device(device) if device else nullcontext():
            template = make_template()
        default = devices.default_device()
        return Built(template, (default,), device or default, strategy=Strategy.SINGLE)

    def _build_wrappers(
        self, make_template: Callable[[], Any], spec: ModelSpec, strategies: tuple[str, ...]
    ) -> list[Built]:
        tf = lazy.tensorflow()
        weights_device = weights_device_name(spec.weights)
        with tf.device(weights_device):
            template = make_template()
        replica_names = tuple(devices.replica_devices(spec.replicas, minimum=2))
        # A batch prefetched onto the first replica is sliced there (in-place split only).
        input_device = replica_names[0] if spec.input == "device" else None
        return [
            Built(
                self.wrap(strategy, template, replica_names, input_device),
                replica_names,
                weights_device,
                strategy=strategy,
            )
            for strategy in strategies
        ]

    # -- placement, input, training ----------------------------------------------------------

    def trace_step(self, built: Built, x: Any, y: Any) -> tuple[TracedStep | None, str | None]:
        if built.distribution is not None:
            return None, _distributed_reason(built)
        return self.trace_model_step(built.model, x, y), None

    def watch_step(self, built: Built) -> None:
        if built.distribution is None:
            self.watch_model_step(built.model)

    def fitted_step(self, spec: ModelSpec, built: Built) -> tuple[TracedStep | None, str | None]:
        if built.distribution is not None:
            return None, _distributed_reason(built)
        traced = self.fitted_model_step(spec, built.model)
        return traced, None if traced is not None else FIT_UNTRACED_REASON

    def trace_placement(
        self, built: Built, x: Any, y: Any
    ) -> tuple[PlacementReport | None, str | None]:
        traced, reason = self.trace_step(built, x, y)
        return (traced.placement() if traced else None), reason

    def dataset(self, spec: ModelSpec, built: Built) -> Any:
        if built.strategy == Strategy.MULTIWORKER:
            return self._multiworker_dataset(spec, built)
        return models.synthetic_dataset(
            spec.image_size,
            spec.classes,
            spec.global_batch,
            input=spec.input,
            # MirroredStrategy distributes the pipeline onto its replicas itself.
            first_replica=None if built.distribution is not None else built.replica_devices[0],
        )

    def _multiworker_dataset(self, spec: ModelSpec, built: Built) -> Any:
        """Each replica's own synthetic batch, made on its worker: tf.distribute cannot split
        a one-element dataset between workers (sharding it by data would hand every worker the
        whole global batch, doubling the work and the reported loss)."""

        def replica_batches(context: Any) -> Any:
            return models.synthetic_dataset(
                spec.image_size,
                spec.classes,
                context.get_per_replica_batch_size(spec.global_batch),
            )

        return built.distribution.distribute_datasets_from_function(replica_batches)

    def fit_timed(self, built: Built, dataset: Any, timer: StepTimer) -> StepTiming:
        from mgbench.trackers.timing import timed_fit

        return timed_fit(built.model, dataset, timer, self.keras())

    # -- memory and environment --------------------------------------------------------------

    def reset_memory_peaks(self) -> None:
        tf = lazy.tensorflow()
        for device in tf.config.list_logical_devices("GPU"):
            tf.config.experimental.reset_memory_stats(device.name)

    def memory_peaks(
        self, cell_devices: Sequence[str] | None = None
    ) -> tuple[dict[str, int] | None, str | None]:
        tf = lazy.tensorflow()
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        if cell_devices is not None:
            # Only the cell's own devices: an idle GPU's peak would pass for a replica's.
            wanted = {devices.short_name(d) for d in cell_devices}
            gpus = [name for name in gpus if devices.short_name(name) in wanted]
        if not gpus:
            return None, TF_PEAK_CPU_REASON
        peaks = {
            devices.short_name(name): int(tf.config.experimental.get_memory_info(name)["peak"])
            for name in gpus
        }
        return peaks, None

    def environment(self, nvml: Any | None) -> dict[str, Any]:
        tf = lazy.tensorflow()
        keras = lazy.keras()
        build = dict(tf.sysconfig.get_build_info())
        gpus = []
        for gpu in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpu)
            gpus.append({"name": details.get("device_name"), "tf_device": gpu.name})
        if nvml is not None:
            try:  # TF's physical GPU i is CUDA's device i: NVML's by UUID, not by index
                indices = hardware.visible_gpu_indices(nvml)
            except ValueError:  # the worker recorded why (memory.nvml_reason)
                indices = []
            for gpu, index in zip(gpus, indices, strict=False):
                gpu["memory_bytes"] = nvml.memory_total_bytes(index)
        return {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "tf_keras": _tf_keras_version(),
            "cuda_build": build.get("cuda_version"),
            "cudnn_build": build.get("cudnn_version"),
            "gpus": gpus,
            "driver": nvml.driver_version() if nvml is not None else None,
        }

    # -- hooks -------------------------------------------------------------------------------

    def check_can_build(self) -> None:
        """Raise when this process cannot build models for this backend."""

    def bare_template_device(self, weights: str) -> str | None:
        """Where ``single`` builds the template (None: unscoped, the default device)."""
        raise NotImplementedError

    def wrap(
        self,
        strategy: str,
        template: Any,
        replica_devices: tuple[str, ...],
        input_device: str | None,
    ) -> Any:
        """The wrapper (``inplace``, ``wholebatch`` or ``concat``) of ``template`` over
        ``replica_devices``."""
        raise NotImplementedError

    def optimizer(self, built: Built) -> Any:
        raise NotImplementedError

    def trace_model_step(self, model: Any, x: Any, y: Any) -> TracedStep:
        """``model``'s training step on the batch ``(x, y)``, traced into plain ops."""
        raise NotImplementedError

    def watch_model_step(self, model: Any) -> None:
        """Arrange to keep the step ``fit`` will trace (nothing to do if it stays reachable)."""

    def fitted_model_step(self, spec: ModelSpec, model: Any) -> TracedStep | None:
        """The step ``fit`` traced for ``model``, as plain ops; None when none was traced."""
        raise NotImplementedError

    def step_function(self, spec: ModelSpec, built: Built) -> Callable[[], float]:
        raise NotImplementedError


def _tf_keras_version() -> str | None:
    """tf_keras's version: the module's where it runs (the tf_keras backend), else its installed
    metadata's, the same number without importing Keras 2 into a Keras 3 process."""
    module = sys.modules.get("tf_keras")
    if module is not None:
        return str(module.__version__)
    return installed_version("tf-keras")


def _distributed_reason(built: Built) -> str:
    return (
        MULTIWORKER_PLACEMENT_REASON
        if built.strategy == Strategy.MULTIWORKER
        else MIRRORED_PLACEMENT_REASON
    )

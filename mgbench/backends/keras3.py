"""Strategy name -> a trainable Keras model over N replicas.

``single``: the bare template; it runs on the default device (GPU:0 with GPUs, else the host).
``inplace``: :class:`~mgbench.wrappers.MultiGpuModel`.
``concat``: :class:`~mgbench.wrappers.ParallelModel`.
``mirrored``: ``tf.distribute.MirroredStrategy``, NCCL on real GPUs; virtual GPUs and CPUs get a
reduction that works there (NCCL refuses virtual GPUs). Its variables are mirrored on every
replica, so the ``weights`` setting does not apply to it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from mgbench import devices
from mgbench.platform import lazy

STRATEGIES = ("single", "inplace", "concat", "mirrored")
WEIGHTS_DEVICES = {"cpu": devices.HOST_DEVICE, "gpu0": None}


@dataclass(frozen=True)
class Built:
    model: Any
    replica_devices: tuple[str, ...]
    weights_device: str
    distribution: Any = None  # the tf.distribute strategy to compile under, if any

    def scope(self) -> Any:
        return self.distribution.scope() if self.distribution is not None else nullcontext()


def weights_device_name(weights: str) -> str:
    """``cpu`` -> the host; ``gpu0`` -> the first replica device (GPU:0 on a GPU machine)."""
    if weights == "cpu":
        return devices.HOST_DEVICE
    if weights == "gpu0":
        return devices.replica_devices(1)[0]
    raise ValueError(f"weights device must be 'cpu' or 'gpu0', got {weights!r}")


def build_compiled(
    strategy: str,
    model: str,
    *,
    image_size: int,
    classes: int,
    replicas: int,
    weights: str = "cpu",
    input_device: str | None = None,
) -> Built:
    """Build ``strategy`` over a named benchmark model and compile it the way every cell is:
    SGD, sparse categorical cross-entropy on logits, XLA off (placement must survive)."""
    from mgbench.platform import models

    keras = lazy.keras()
    factory = models.model_factory(model)
    shape = models.input_shape(image_size)
    built = build(
        strategy,
        lambda: factory(input_shape=shape, classes=classes),
        replicas,
        weights=weights,
        input_device=input_device,
    )
    with built.scope():
        built.model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=False,
        )
    return built


def cross_device_ops() -> Any:
    """NCCL (TF's default) on real GPUs; a copy-based all-reduce where NCCL cannot run."""
    tf = lazy.tensorflow()
    if not tf.config.list_logical_devices("GPU"):
        return tf.distribute.ReductionToOneDevice(reduce_to_device=devices.HOST_DEVICE)
    if devices.virtual_gpus_active():
        return tf.distribute.HierarchicalCopyAllReduce()
    return None


def build(
    strategy: str,
    make_template: Callable[[], Any],
    replicas: int,
    *,
    weights: str = "cpu",
    input_device: str | None = None,
) -> Built:
    """Build ``strategy`` over ``replicas`` devices, the template's weights on ``weights``."""
    tf = lazy.tensorflow()
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    if strategy == "single" and replicas != 1:
        raise ValueError(f"strategy 'single' runs on one device, got replicas={replicas}")
    if strategy == "mirrored":
        replica_names = devices.replica_devices(replicas, minimum=2)
        distribution = tf.distribute.MirroredStrategy(
            devices=replica_names, cross_device_ops=cross_device_ops()
        )
        with distribution.scope():
            template = make_template()
        return Built(template, tuple(replica_names), "mirrored", distribution)
    weights_device = weights_device_name(weights)
    with tf.device(weights_device):
        template = make_template()
    if strategy == "single":
        return Built(template, (devices.default_device(),), weights_device)
    from mgbench.wrappers import MultiGpuModel, ParallelModel

    replica_names = devices.replica_devices(replicas, minimum=2)
    if strategy == "inplace":
        model = MultiGpuModel(template, replicas, devices=replica_names, input_device=input_device)
    else:
        model = ParallelModel(template, replicas, devices=replica_names)
    return Built(model, tuple(replica_names), weights_device)

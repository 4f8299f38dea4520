"""Build and compile a cell's strategy on the tf_keras (Keras 2, graph mode) backend."""

from __future__ import annotations

from typing import Any

from mgbench import devices
from mgbench.backends.keras3 import Built, weights_device_name
from mgbench.platform import lazy, models


def build_compiled(
    strategy: str,
    model: str,
    *,
    image_size: int,
    classes: int,
    replicas: int,
    weights: str = "cpu",
) -> Built:
    """Like :func:`mgbench.backends.keras3.build_compiled`, in TF1 graph mode (eager off)."""
    from mgbench.wrappers import graph_mode as wrappers

    tf = lazy.tensorflow()
    if tf.executing_eagerly():
        raise RuntimeError(
            "the tf_keras backend runs in TF1 graph mode: call "
            "tf.compat.v1.disable_eager_execution() first in the process"
        )
    keras = lazy.tf_keras()
    factory = models.model_factory(model, backend="tf_keras")
    shape = models.input_shape(image_size)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if strategy == "mirrored":
        replica_names = devices.replica_devices(replicas, minimum=2)
        from mgbench.backends.keras3 import cross_device_ops

        distribution = tf.distribute.MirroredStrategy(
            devices=replica_names, cross_device_ops=cross_device_ops()
        )
        with distribution.scope():
            template = factory(input_shape=shape, classes=classes)
            # tf.distribute reduces gradients itself; Keras 2's optimizer_v1 is not allowed here.
            template.compile(optimizer=keras.optimizers.legacy.SGD(0.01), loss=loss)
        return Built(template, tuple(replica_names), "mirrored", distribution)
    if strategy == "single":
        # In graph mode a construction-time device scope places every op, not just the
        # variables: the bare model is built unscoped, so it runs on the default device.
        template = factory(input_shape=shape, classes=classes)
        template.compile(optimizer=wrappers.colocating_sgd(0.01), loss=loss)
        return Built(template, (devices.default_device(),), devices.default_device())
    weights_device = weights_device_name(weights)
    with tf.device(weights_device):
        template = factory(input_shape=shape, classes=classes)
    replica_names = devices.replica_devices(replicas, minimum=2)
    build: Any = {"inplace": wrappers.multi_gpu_model, "concat": wrappers.parallel_model}[strategy]
    model_ = build(template, replica_names)
    model_.compile(optimizer=wrappers.colocating_sgd(0.01), loss=loss)
    return Built(model_, tuple(replica_names), weights_device)

"""Keras 2 graph-mode wrappers, re-implemented after the originals (DESIGN §1).

* :func:`multi_gpu_model` (the in-place split, Keras 2.2.4 ``multi_gpu_model`` as reworked in
  the seed): per replica a ``Lambda`` slice built under ``tf.device(x.device)``, where ``x`` is
  the template's input; the last replica takes the remainder. It is in place only when the
  template was built under a device (the host, ``tf.device('/cpu:0')``, as Keras's own docstring
  did): an input with no device makes ``tf.device(x.device)`` a no-op, the slice lands under the
  replica's scope and the whole batch goes to every replica, exactly :func:`whole_batch_model`
  (DESIGN §2.17). It warns, naming the input, when that happens.
* :func:`whole_batch_model` (Keras 2.0.9-2.1.6 ``multi_gpu_model``, the split PR #10230
  replaced): the same ``Lambda`` slices built under each replica's ``tf.device``, so every
  replica receives the whole batch and cuts its share there, wherever the template lives.
* :func:`parallel_model` (Matterport's concat split): one ``tf.split`` per input with no device
  scope (the default device: GPU:0 with GPUs), towers take their piece through a ``Lambda``.

All merge on the host (concatenate, or average scalars), de-duplicate output names, and send
save/load to the template. In graph mode, device scopes at construction place the ops, and
gradients are colocated with their forward ops only through Keras 2's original optimizers
(``optimizer_v1``, via ``K.gradients``): :func:`colocating_sgd`; others are refused.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from mgbench.devices import HOST_DEVICE
from mgbench.platform import lazy
from mgbench.wrappers.scopes import MERGE_SCOPE, SPLIT_SCOPE, replica_scope
from mgbench.wrappers.template import TemplateOwnsWeights, unique_output_names


def colocating_sgd(learning_rate: float = 0.01) -> Any:
    """Keras 2's original SGD, whose gradients go through ``K.gradients`` (colocated)."""
    from tf_keras.src.optimizers import optimizer_v1

    return optimizer_v1.SGD(lr=learning_rate)


def _is_colocating(optimizer: Any) -> bool:
    from tf_keras.src.optimizers import optimizer_v1

    return isinstance(optimizer, optimizer_v1.Optimizer)


def _get_slice(data: Any, i: int, parts: int) -> Any:
    tf = lazy.tensorflow()
    shape = tf.shape(data)
    batch = shape[:1]
    step = batch // parts
    size = batch - step * i if i == parts - 1 else step
    size = tf.concat([size, shape[1:]], axis=0)
    start = tf.concat([step * i, shape[1:] * 0], axis=0)
    return tf.slice(data, start, size)


def _merge(keras: Any, per_replica: list[list[Any]], names: list[str]) -> list[Any]:
    tf = lazy.tensorflow()
    merged = []
    with tf.device(HOST_DEVICE), tf.name_scope(MERGE_SCOPE):
        for name, outputs in zip(names, per_replica, strict=True):
            if keras.backend.int_shape(outputs[0]) == ():
                count = len(outputs)
                merged.append(
                    keras.layers.Lambda(lambda o, n=count: tf.add_n(o) / n, name=name)(outputs)
                )
            else:
                merged.append(keras.layers.Concatenate(axis=0, name=name)(outputs))
    return merged


def _wrapper_class(keras: Any) -> type:
    class LegacyParallelModel(TemplateOwnsWeights, keras.Model):
        """A functional model over the replicas; the template owns the only weights."""

        def __init__(self, template: Any, inputs: Any, outputs: Any, devices: Sequence[str]):
            super().__init__(inputs=inputs, outputs=outputs)
            self.inner_model = template
            self.replica_devices = tuple(devices)

        def compile(self, optimizer: Any = None, *args: Any, **kwargs: Any) -> None:
            if not _is_colocating(optimizer):
                raise ValueError(
                    f"the tf_keras wrappers need a Keras 2 optimizer_v1 optimizer (got "
                    f"{optimizer!r}): only those compute gradients with K.gradients, colocated "
                    "with each replica's forward ops. Use "
                    "mgbench.wrappers.graph_mode.colocating_sgd()."
                )
            super().compile(optimizer, *args, **kwargs)

    return LegacyParallelModel


def _check(devices: Sequence[str]) -> None:
    if len(devices) < 2:
        raise ValueError(f"a data-parallel wrapper needs at least 2 replica devices, got {devices}")


def _replicate(template: Any, devices: Sequence[str], replica_inputs: Any) -> Any:
    """Call the template once per replica device on ``replica_inputs(i)``; merge on the host."""
    _check(devices)
    tf = lazy.tensorflow()
    keras = lazy.tf_keras()
    per_output: list[list[Any]] = [[] for _ in template.outputs]
    for i, device in enumerate(devices):
        with tf.device(device), tf.name_scope(replica_scope(i)):
            inputs = replica_inputs(i)
            outputs = template(inputs if len(inputs) > 1 else inputs[0])
            outputs = outputs if isinstance(outputs, list) else [outputs]
            for o, output in enumerate(outputs):
                per_output[o].append(output)
    merged = _merge(keras, per_output, unique_output_names(list(template.output_names)))
    return _wrapper_class(keras)(template, template.inputs, merged, devices)


def _slicer(template: Any, parts: int) -> Callable[[int, int], Any]:
    """``slice_of(i, k)``: replica ``i``'s ``Lambda`` slice of template input ``k``, built under
    whatever device scope is active (the caller's choice is the whole difference)."""
    keras = lazy.tf_keras()

    def slice_of(i: int, k: int) -> Any:
        x = template.inputs[k]
        return keras.layers.Lambda(
            _get_slice,
            output_shape=tuple(x.shape[1:]),
            arguments={"i": i, "parts": parts},
            name=f"{SPLIT_SCOPE}_{i}_{k}",
        )(x)

    return slice_of


def _warn_unplaced_inputs(template: Any) -> None:
    unplaced = [x.name for x in template.inputs if not x.device]
    if not unplaced:
        return
    names = ", ".join(repr(name) for name in unplaced)
    which = f"input {names} has" if len(unplaced) == 1 else f"inputs {names} have"
    warnings.warn(
        f"multi_gpu_model: the template's {which} no device, so tf.device(x.device) is a no-op "
        "and each replica slices the batch on its own device: the whole batch is copied to "
        "every replica (Keras 2.0.9-2.1.6's whole-batch split), not split in place. Build the "
        "template under tf.device('/cpu:0') for the in-place split.",
        UserWarning,
        stacklevel=3,
    )


def multi_gpu_model(template: Any, devices: Sequence[str]) -> Any:
    """The in-place split over ``devices``: in place when ``template`` was built under a device
    (the host); warns, naming the input, when one of its inputs has none."""
    _check(devices)  # refuse bad devices before warning about the template
    tf = lazy.tensorflow()
    _warn_unplaced_inputs(template)
    slice_of = _slicer(template, len(devices))

    def slices(i: int) -> list[Any]:
        inputs = []
        for k, x in enumerate(template.inputs):
            # The seed's in-place split: cut the slice where the input lives (a no-op scope,
            # and so the replica's own device, when the input has no device).
            with tf.device(x.device):
                inputs.append(slice_of(i, k))
        return inputs

    return _replicate(template, devices, slices)


def whole_batch_model(template: Any, devices: Sequence[str]) -> Any:
    """Keras 2.0.9-2.1.6's split over ``devices``: each replica slices on its own device."""
    slice_of = _slicer(template, len(devices))

    def slices(i: int) -> list[Any]:
        # _replicate calls this inside replica i's tf.device and name scope, as Keras <= 2.1
        # built its Lambda(get_slice) inside ``with tf.device('/gpu:%d' % i)``.
        return [slice_of(i, k) for k in range(len(template.inputs))]

    return _replicate(template, devices, slices)


def parallel_model(template: Any, devices: Sequence[str]) -> Any:
    """Matterport's concat split: one ``tf.split`` per input, no device scope."""
    _check(devices)
    tf = lazy.tensorflow()
    keras = lazy.tf_keras()
    with tf.name_scope(SPLIT_SCOPE):  # a name for the audit; deliberately no device
        pieces = {x.name: tf.split(x, len(devices)) for x in template.inputs}

    def towers(i: int) -> list[Any]:
        return [
            keras.layers.Lambda(
                lambda s, name=x.name, i=i: pieces[name][i],
                output_shape=tuple(x.shape[1:]),
                name=f"tower_input_{i}_{k}",
            )(x)
            for k, x in enumerate(template.inputs)
        ]

    return _replicate(template, devices, towers)

"""What the data-parallel wrappers share: replicas placed in ``call``, colocated gradients.

Three facts of TF 2.21 / Keras 3 (DESIGN §2) shape this class:

* Keras 3 replays a functional model under the device scope active when it is *called*, so the
  per-replica ``tf.device`` scopes live in :meth:`ReplicatedModel.call`.
* ``tf.GradientTape`` leaves backward ops unplaced (they all land on the default device), while
  ``tf.gradients`` inside a ``tf.function`` colocates each gradient op with its forward op; so
  :meth:`ReplicatedModel.train_step` uses ``tf.gradients``.
* ``jit_compile="auto"`` turns XLA on whenever a GPU is visible, and XLA compiles the step for one
  device, erasing the placement; so XLA is forced off, visibly.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from mgbench import devices
from mgbench.platform import lazy
from mgbench.wrappers.scopes import MERGE_SCOPE, replica_scope
from mgbench.wrappers.template import TemplateOwnsWeights, unique_output_names

keras = lazy.keras()
tf = lazy.tensorflow()
from keras.src.losses.loss import unscale_loss_for_distribution  # noqa: E402

# Keras is loaded at run time (lazily, through platform.lazy), so to a type checker its Model is
# any class: the base below and the template's type are checked by isinstance instead.
KerasModel: Any = keras.Model


def resolve_replica_devices(
    count_or_ids: int | Sequence[int], devices_arg: Sequence[str] | None, *, wrapper: str
) -> list[str]:
    """Replica device names from an int count or a list of device ids (the originals' API)."""
    if isinstance(count_or_ids, bool) or not isinstance(count_or_ids, int | list | tuple):
        raise ValueError(
            f"{wrapper}: expected an int >= 2 or a list of device ids, got {count_or_ids!r}"
        )
    ids = list(range(count_or_ids)) if isinstance(count_or_ids, int) else list(count_or_ids)
    if len(ids) < 2:
        raise ValueError(
            f"{wrapper} needs at least 2 replicas, got {count_or_ids!r}; for one device train the "
            "template itself"
        )
    if len(set(ids)) != len(ids):
        raise ValueError(f"{wrapper}: device ids repeat: {ids}")
    if devices_arg is not None:
        if len(devices_arg) != len(ids):
            raise ValueError(
                f"{wrapper}: {len(ids)} replicas asked for but {len(devices_arg)} devices given: "
                f"{list(devices_arg)}"
            )
        return devices.check_devices_exist(devices_arg, purpose=wrapper)
    available = devices.available_replica_devices()
    wanted = max(ids) + 1
    if wanted > len(available) or min(ids) < 0:
        expected = [devices.expected_replica_name(i) for i in ids]
        shown = [devices.short_name(d) for d in available] or "none"
        raise ValueError(
            f"{wrapper} with {count_or_ids!r} expects devices {expected} to exist, but this "
            f"process has {len(available)} replica device(s): {shown}. Reduce the replica "
            "count, or simulate devices with mgbench.devices.simulate() before TensorFlow starts."
        )
    return [available[i] for i in ids]


class ReplicatedModel(TemplateOwnsWeights, KerasModel):
    """A data-parallel view of one template model; the template's weights are the only weights.

    Subclasses define how the batch is cut (:meth:`split_inputs`); everything else is shared.
    """

    wrapper_name = "ReplicatedModel"

    def __init__(self, template: Any, replica_devices: Sequence[str], **kwargs: Any):
        super().__init__(name=kwargs.pop("name", None) or self.wrapper_name.lower(), **kwargs)
        if not isinstance(template, keras.Model):
            raise TypeError(
                f"{self.wrapper_name}: template must be a keras.Model, got {type(template)}"
            )
        self.inner_model = template
        self.replica_devices = tuple(replica_devices)
        self.host_device = devices.HOST_DEVICE
        self._unique_output_names = unique_output_names(list(template.output_names))
        self.built = True

    # -- the forward pass --------------------------------------------------------------------

    @property
    def output_names(self) -> list[str]:
        return list(self._unique_output_names)

    def split_inputs(self, flat_inputs: list[Any]) -> list[list[Any]]:
        """Per replica, its slice of every flattened input."""
        raise NotImplementedError

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        flat_inputs = tf.nest.flatten(inputs)
        slices = self.split_inputs(flat_inputs)
        replica_outputs = []
        output_structure = None
        for index, device in enumerate(self.replica_devices):
            with tf.device(device), tf.name_scope(replica_scope(index)):
                replica_inputs = tf.nest.pack_sequence_as(inputs, slices[index])
                outputs = self.inner_model(replica_inputs, training=training)
            output_structure = outputs
            replica_outputs.append(tf.nest.flatten(outputs))
        with tf.device(self.host_device), tf.name_scope(MERGE_SCOPE):
            merged = [self._merge(parts) for parts in zip(*replica_outputs, strict=True)]
        return tf.nest.pack_sequence_as(output_structure, merged)

    def _merge(self, parts: Sequence[Any]) -> Any:
        if parts[0].shape.rank == 0:
            # A scalar (a loss, a metric) has no batch axis to concatenate: average it.
            return tf.add_n(list(parts)) / len(parts)
        return tf.concat(list(parts), axis=0)

    # -- training ----------------------------------------------------------------------------

    def train_step(self, data: Any) -> dict[str, Any]:
        if tf.executing_eagerly():
            raise RuntimeError(
                f"{self.wrapper_name}.train_step must run inside a tf.function: tf.gradients, "
                "which keeps each replica's backward pass on its device, has no eager mode"
            )
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        loss = self._compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
        )
        batch_size = tf.shape(next(t for t in tf.nest.flatten(x) if t is not None))[0]
        self._loss_tracker.update_state(
            unscale_loss_for_distribution(loss), sample_weight=batch_size
        )
        if self.optimizer is not None:
            loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        if variables:
            # tf.gradients (not GradientTape) colocates every gradient op with its forward op,
            # so each replica's backward pass runs where its forward pass ran.
            gradients = tf.gradients(loss, [v.value for v in variables])
            self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        else:
            warnings.warn(
                f"{self.wrapper_name}: the template has no trainable weights", stacklevel=2
            )
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def compile(
        self, *args: Any, jit_compile: Any = "auto", run_eagerly: bool = False, **kwargs: Any
    ) -> None:
        if run_eagerly:
            raise ValueError(
                f"{self.wrapper_name}.compile(run_eagerly=True) is not supported: backward ops "
                "are only placed per replica in graph mode (tf.gradients inside tf.function)"
            )
        if jit_compile is True:
            warnings.warn(
                f"{self.wrapper_name}: jit_compile=True ignored; XLA compiles the whole step for "
                "one device and would erase the per-replica placement. Compiling with "
                "jit_compile=False.",
                stacklevel=2,
            )
        super().compile(*args, jit_compile=False, run_eagerly=False, **kwargs)

    @property
    def jit_compile(self) -> bool:
        return False

    @jit_compile.setter
    def jit_compile(self, value: Any) -> None:
        # Keras resolves "auto" to True whenever a GPU is visible; placement needs False always.
        if value is True:
            warnings.warn(f"{self.wrapper_name}: XLA stays off (jit_compile=False)", stacklevel=2)
        self._jit_compile = False

    def get_config(self) -> dict[str, Any]:
        return {"replicas": [devices.short_name(d) for d in self.replica_devices]}

    def summary(self, *args: Any, **kwargs: Any) -> None:
        print_fn = kwargs.get("print_fn") or print
        print_fn(
            f"{self.wrapper_name} over {len(self.replica_devices)} replicas: "
            f"{', '.join(devices.short_name(d) for d in self.replica_devices)}; "
            f"merge on {devices.short_name(self.host_device)}"
        )
        self.inner_model.summary(*args, **kwargs)

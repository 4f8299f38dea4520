"""The whole-batch split (``WholeBatchModel``), after Keras 2.0.9-2.1.6's ``multi_gpu_model``.

Each replica cuts its own slice *on its own device*: the slicing runs under the replica's
``tf.device`` scope, so TensorFlow copies the whole batch to every replica and each one keeps its
share. This is the split Keras PR #10230 replaced with the in-place one (the claim's baseline).
The last replica takes the remainder, so any batch size trains, as in the in-place split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mgbench.wrappers._replicated import ReplicatedModel, resolve_replica_devices, tf
from mgbench.wrappers.scopes import SPLIT_SCOPE, replica_scope


class WholeBatchModel(ReplicatedModel):
    """Whole-batch split: ``WholeBatchModel(template, gpus)``, ``gpus`` an int >= 2 or ids."""

    wrapper_name = "WholeBatchModel"

    def __init__(
        self,
        template: Any,
        gpus: int | Sequence[int],
        *,
        devices: Sequence[str] | None = None,
        **kwargs: Any,
    ):
        replicas = resolve_replica_devices(gpus, devices, wrapper=self.wrapper_name)
        super().__init__(template, replicas, **kwargs)

    def split_inputs(self, flat_inputs: list[Any]) -> list[list[Any]]:
        parts = len(self.replica_devices)
        per_replica: list[list[Any]] = []
        for index, device in enumerate(self.replica_devices):
            # The replica's scope (device and name) around its slicing: the audit reads each
            # slice as replica ``index``'s, sized as its share, and the placer sends it the batch.
            with (
                tf.device(device),
                tf.name_scope(replica_scope(index)),
                tf.name_scope(SPLIT_SCOPE),
            ):
                replica_slices = []
                for x in flat_inputs:
                    batch = tf.shape(x)[0]
                    step = batch // parts
                    stop = batch if index == parts - 1 else step * (index + 1)
                    replica_slices.append(x[step * index : stop])
            per_replica.append(replica_slices)
        return per_replica

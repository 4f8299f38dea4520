"""The in-place split (``MultiGpuModel``), after Keras 2.2.4's ``multi_gpu_model``.

Each replica's slice is cut on the device where the batch lives, so only a replica's own share of
the batch is copied to it. Inside a traced step the batch tensor carries no device of its own, so
that device is the host (where a tf.data pipeline delivers it) unless ``input_device`` says the
batch was made elsewhere. The last replica takes the remainder: any batch size trains.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mgbench.wrappers._replicated import ReplicatedModel, resolve_replica_devices, tf
from mgbench.wrappers.scopes import SPLIT_SCOPE


class MultiGpuModel(ReplicatedModel):
    """In-place split: ``MultiGpuModel(template, gpus)``, ``gpus`` an int >= 2 or device ids."""

    wrapper_name = "MultiGpuModel"

    def __init__(
        self,
        template: Any,
        gpus: int | Sequence[int],
        *,
        devices: Sequence[str] | None = None,
        input_device: str | None = None,
        **kwargs: Any,
    ):
        replicas = resolve_replica_devices(gpus, devices, wrapper=self.wrapper_name)
        super().__init__(template, replicas, **kwargs)
        self.input_device = input_device or self.host_device

    def split_inputs(self, flat_inputs: list[Any]) -> list[list[Any]]:
        parts = len(self.replica_devices)
        per_replica: list[list[Any]] = [[] for _ in range(parts)]
        for x in flat_inputs:
            with (
                tf.device(getattr(x, "device", "") or self.input_device),
                tf.name_scope(SPLIT_SCOPE),
            ):
                batch = tf.shape(x)[0]
                step = batch // parts
                for index in range(parts):
                    stop = batch if index == parts - 1 else step * (index + 1)
                    per_replica[index].append(x[step * index : stop])
        return per_replica

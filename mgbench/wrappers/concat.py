"""The concat split (``ParallelModel``), after Matterport Mask R-CNN's ``ParallelModel``.

One ``tf.split`` with no device scope: TensorFlow's placer puts it on the default device (GPU:0
when a GPU exists), so the whole batch is copied there and sliced, and the slices copied on. The
batch must divide evenly by the replica count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mgbench.wrappers._replicated import ReplicatedModel, resolve_replica_devices, tf
from mgbench.wrappers.scopes import SPLIT_SCOPE


class ParallelModel(ReplicatedModel):
    """Concat split: ``ParallelModel(template, gpu_count)``."""

    wrapper_name = "ParallelModel"

    def __init__(
        self,
        template: Any,
        gpu_count: int | Sequence[int],
        *,
        devices: Sequence[str] | None = None,
        **kwargs: Any,
    ):
        replicas = resolve_replica_devices(gpu_count, devices, wrapper=self.wrapper_name)
        super().__init__(template, replicas, **kwargs)

    @property
    def gpu_count(self) -> int:
        return len(self.replica_devices)

    def _indivisible(self, batch_size: int) -> ValueError:
        return ValueError(
            f"ParallelModel: batch size {batch_size} is not divisible by gpu_count="
            f"{self.gpu_count}; use a batch that is a multiple of {self.gpu_count} "
            "(MultiGpuModel takes any batch)"
        )

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size % self.gpu_count:
            raise self._indivisible(batch_size)

    def split_inputs(self, flat_inputs: list[Any]) -> list[list[Any]]:
        parts = self.gpu_count
        split = []
        with tf.name_scope(SPLIT_SCOPE):  # deliberately no device scope, as in the original
            for x in flat_inputs:
                static_batch = x.shape[0]
                if static_batch is not None:
                    self.check_batch_size(static_batch)
                else:
                    tf.debugging.assert_equal(
                        tf.shape(x)[0] % parts,
                        0,
                        message=f"ParallelModel: batch size not divisible by gpu_count={parts}",
                    )
                split.append(tf.split(x, parts, axis=0))
        return [[pieces[index] for pieces in split] for index in range(parts)]

    # Array inputs are cut into batches by Keras; check every batch size before any step runs.

    def _check_array_batches(self, x: Any, batch_size: int | None) -> None:
        samples = _leading_dimension(x)
        if samples is None:
            return
        batch_size = batch_size or 32  # Keras' default for arrays
        self.check_batch_size(min(batch_size, samples))
        if samples > batch_size and (samples % batch_size) % self.gpu_count:
            raise ValueError(
                f"ParallelModel: {samples} samples in batches of {batch_size} leave a last batch "
                f"of {samples % batch_size}, not divisible by gpu_count={self.gpu_count}"
            )

    def fit(
        self, x: Any = None, y: Any = None, batch_size: int | None = None, **kwargs: Any
    ) -> Any:
        self._check_array_batches(x, batch_size)
        return super().fit(x, y, batch_size=batch_size, **kwargs)

    def evaluate(
        self, x: Any = None, y: Any = None, batch_size: int | None = None, **kwargs: Any
    ) -> Any:
        self._check_array_batches(x, batch_size)
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def predict(self, x: Any, batch_size: int | None = None, **kwargs: Any) -> Any:
        self._check_array_batches(x, batch_size)
        return super().predict(x, batch_size=batch_size, **kwargs)


def _leading_dimension(x: Any) -> int | None:
    """Sample count of array-like inputs (numpy, tensors, nests of them); None for datasets."""
    leaves = tf.nest.flatten(x) if isinstance(x, list | tuple | dict) else [x]
    for leaf in leaves:
        shape = getattr(leaf, "shape", None)
        if shape is not None and len(shape) > 0 and shape[0] is not None:
            return int(shape[0])
    return None

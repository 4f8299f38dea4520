"""One cell built in this process, for pytest-benchmark gates: a training step to call.

Unlike the runner (one fresh process per cell), a test session shares one TensorFlow runtime, so
devices are prepared once, before TF starts, with room for the largest replica count; if the
runtime already started, whatever devices exist are used.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from typing import Any

from mgbench import devices
from mgbench.backends import keras3 as strategies
from mgbench.platform import lazy, models

_prepared: dict[str, str] = {}


def ensure_devices(replicas: int) -> str:
    """Prepare devices once per process; returns the device mode."""
    if "mode" not in _prepared:
        if not devices.already_configured():
            try:
                _prepared["mode"] = devices.prepare(replicas)
                return _prepared["mode"]
            except RuntimeError:
                pass  # the TF runtime started before us: use the devices it has
        tf = lazy.tensorflow()
        gpu = bool(tf.config.list_logical_devices("GPU"))
        _prepared["mode"] = "gpu (configured elsewhere)" if gpu else "cpu-simulation"
    return _prepared["mode"]


@dataclass
class InProcessCell:
    model: str
    strategy: str
    replicas: int
    batch_per_replica: int
    image_size: int
    device_mode: str
    built: Any = field(repr=False)
    iterator: Any = field(repr=False)

    @property
    def images_per_step(self) -> int:
        return self.batch_per_replica * self.replicas

    def step(self) -> float:
        """One training step, synced by reading its loss."""
        return float(self.built.model.train_function(self.iterator)["loss"])

    def info(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "strategy": self.strategy,
            "replicas": self.replicas,
            "batch_per_replica": self.batch_per_replica,
            "image_size": self.image_size,
            "images_per_step": self.images_per_step,
            "device_mode": self.device_mode,
            "jit_compile": bool(self.built.model.jit_compile),
        }

    def memory(self) -> dict[str, Any]:
        """Peak memory so far: TF's allocator per GPU (None without GPUs), and the process RSS."""
        tf = lazy.tensorflow()
        gpus = tf.config.list_logical_devices("GPU")
        peaks = {
            devices.short_name(d.name): int(tf.config.experimental.get_memory_info(d.name)["peak"])
            for d in gpus
        }
        # ru_maxrss is KiB on Linux: the lifetime peak of this (shared) test process.
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return {"tf_peak_bytes": peaks or None, "process_rss_peak_bytes": rss}


def build_cell(
    model: str = "TinyCNN",
    strategy: str = "inplace",
    replicas: int = 2,
    *,
    batch_per_replica: int = 16,
    image_size: int = 32,
    classes: int = 10,
) -> InProcessCell:
    count = 1 if strategy == "single" else replicas
    mode = ensure_devices(max(count, 2))
    tf = lazy.tensorflow()
    built = strategies.build_compiled(
        strategy, model, image_size=image_size, classes=classes, replicas=count
    )
    global_batch = batch_per_replica * count
    dataset = models.synthetic_dataset(image_size, classes, global_batch)
    if built.distribution is not None:
        dataset = built.distribution.experimental_distribute_dataset(dataset)
    x, y = models.synthetic_batch(image_size, classes, global_batch)
    built.model._symbolic_build(data_batch=(tf.constant(x), tf.constant(y)))
    built.model.make_train_function()
    return InProcessCell(
        model, strategy, count, batch_per_replica, image_size, mode, built, iter(dataset)
    )

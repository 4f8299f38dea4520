"""One cell built in this process, for pytest-benchmark gates: a training step to call.

Unlike the runner (one fresh process per cell), a test session shares one framework runtime, so
devices are prepared once, before the runtime starts, with room for the largest replica count;
if the runtime already started, whatever devices exist are used.
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mgbench import backends
from mgbench.backends.base import Backend, BuildSpec, Built
from mgbench.vocabulary import DEFAULT_BACKEND, Strategy

_prepared: dict[str, str] = {}


def ensure_devices(replicas: int, backend: str = "keras3") -> str:
    """Prepare devices once per process; returns the device mode."""
    if "mode" not in _prepared:
        _prepared["mode"] = backends.get(backend).prepare_shared_process(replicas).mode
    return _prepared["mode"]


@dataclass
class InProcessCell:
    model: str
    strategy: str
    replicas: int
    batch_per_replica: int
    image_size: int
    device_mode: str
    built: Built = field(repr=False)
    backend: Backend = field(repr=False)
    run_step: Callable[[], float] = field(repr=False)

    @property
    def images_per_step(self) -> int:
        return self.batch_per_replica * self.replicas

    def step(self) -> float:
        """One training step, synced by reading its loss."""
        return self.run_step()

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
        """Peak memory so far: the framework's per GPU (None without GPUs), and the process RSS."""
        peaks, _ = self.backend.memory_peaks()
        # ru_maxrss is KiB on Linux: the lifetime peak of this (shared) test process.
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return {"tf_peak_bytes": peaks, "process_rss_peak_bytes": rss}


def build_cell(
    model: str = "TinyCNN",
    strategy: str = Strategy.INPLACE,
    replicas: int = 2,
    *,
    batch_per_replica: int = 16,
    image_size: int = 32,
    classes: int = 10,
    backend: str = DEFAULT_BACKEND,
) -> InProcessCell:
    count = 1 if strategy == Strategy.SINGLE else replicas
    mode = ensure_devices(max(count, 2), backend)
    chosen = backends.get(backend)
    spec = BuildSpec(
        model=model,
        image_size=image_size,
        classes=classes,
        strategy=strategy,
        replicas=count,
        batch_per_replica=batch_per_replica,
    )
    built = chosen.build_compiled(spec)
    return InProcessCell(
        model,
        strategy,
        count,
        batch_per_replica,
        image_size,
        mode,
        built,
        chosen,
        chosen.step_function(spec, built),
    )

"""The measured objects: three data-parallel wrappers over one Keras template model.

* ``MultiGpuModel`` (in-place): each replica's slice cut where the batch lives (the host);
* ``WholeBatchModel`` (whole-batch): each replica cuts its slice on its own device, so the whole
  batch is copied to every replica (Keras 2.0.9-2.1.6, the claim's baseline);
* ``ParallelModel`` (concat): one split on the default device (GPU:0), slices sent on from there.

``from mgbench.wrappers import MultiGpuModel`` imports TensorFlow and Keras (the wrappers subclass
``keras.Model``); the package itself loads them only on that first access, so
``mgbench.wrappers.scopes`` stays importable without TensorFlow. Keras 2 graph-mode twins of all
three live in :mod:`mgbench.wrappers.graph_mode`.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "MultiGpuModel": "mgbench.wrappers.inplace",
    "WholeBatchModel": "mgbench.wrappers.wholebatch",
    "ParallelModel": "mgbench.wrappers.concat",
}

__all__ = ["MultiGpuModel", "ParallelModel", "WholeBatchModel"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mgbench.wrappers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

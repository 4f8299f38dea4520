"""The measured objects: two data-parallel wrappers over one Keras template model.

``from mgbench.wrappers import MultiGpuModel`` imports TensorFlow and Keras (the wrappers subclass
``keras.Model``); the package itself loads them only on that first access, so
``mgbench.wrappers.scopes`` stays importable without TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"MultiGpuModel": "mgbench.wrappers.inplace", "ParallelModel": "mgbench.wrappers.concat"}

__all__ = ["MultiGpuModel", "ParallelModel"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mgbench.wrappers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

"""Lazy, checked imports of TensorFlow and Keras.

Keras 3 picks its backend when first imported; mgbench's wrappers are TensorFlow graphs, so the
backend is pinned here before Keras loads, and a different backend already loaded is an error
rather than a silent mis-measurement.
"""

from __future__ import annotations

import os
from types import ModuleType


def tensorflow() -> ModuleType:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def tf_keras() -> ModuleType:
    """Keras 2 (the ``tf_keras`` package), for the graph-mode fidelity backend."""
    tensorflow()
    try:
        import tf_keras as module
    except ImportError as error:
        raise RuntimeError(
            "the tf_keras backend needs the tf-keras package: pip install 'tf-keras>=2.21,<2.22'"
        ) from error
    return module


def keras() -> ModuleType:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    tensorflow()
    import keras as keras_module

    backend = keras_module.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            f"mgbench needs the Keras 'tensorflow' backend, but Keras was loaded with {backend!r} "
            "(KERAS_BACKEND). Unset KERAS_BACKEND or set it to 'tensorflow'."
        )
    return keras_module

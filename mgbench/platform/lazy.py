"""Lazy, checked imports of TensorFlow and Keras.

Keras 3 picks its backend when first imported; mgbench's wrappers are TensorFlow graphs, so the
backend is pinned here before Keras loads, and a different backend already loaded is an error
rather than a silent mis-measurement. The jax backend's Keras (:func:`keras_jax`) is pinned the
same way, and loads no TensorFlow.
"""

from __future__ import annotations

import os
import sys
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


def keras_jax() -> ModuleType:
    """Keras 3 on JAX, loaded without TensorFlow: a RuntimeError if Keras already runs on another
    backend in this process (one process holds one Keras backend)."""
    if "keras" not in sys.modules:
        # Overrides an inherited KERAS_BACKEND=tensorflow (a test session's, say): this call is
        # the request for JAX, and Keras reads the variable only when it first loads.
        os.environ["KERAS_BACKEND"] = "jax"
    import keras as keras_module

    backend = keras_module.backend.backend()
    if backend != "jax":
        raise RuntimeError(
            f"the jax backend needs Keras on JAX, but Keras was already loaded with {backend!r} "
            "in this process; run jax cells in a fresh process (mgbench's workers are)."
        )
    _keep_tensorflow_out()
    return keras_module


def _keep_tensorflow_out() -> None:
    """Keras probes for TensorFlow where it is optional, and the probe imports it: so
    ``keras.distribution.initialize`` (through ``keras.utils.set_random_seed``, which seeds TF
    too) would load TF into a JAX worker, with its start-up time and memory. Keras's lazy handle
    is marked absent instead (a private attribute: a Keras without it is left as it is)."""
    if "tensorflow" in sys.modules:
        return
    try:
        from keras.src.utils import module_utils
    except ImportError:
        return
    handle = getattr(module_utils, "tensorflow", None)
    if handle is not None and getattr(handle, "module", None) is None:
        handle._available = False

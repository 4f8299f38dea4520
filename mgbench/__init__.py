"""mgbench: benchmark data-parallel multi-GPU training wrappers for Keras.

Importing this package is cheap on purpose: TensorFlow, Keras and NVML are imported lazily,
inside the functions (and worker processes) that need them.
"""

__version__ = "0.1.0"

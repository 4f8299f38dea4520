"""The measured objects: two data-parallel wrappers over one Keras template model.

Importing this package imports TensorFlow and Keras (the wrappers subclass ``keras.Model``).
"""

from mgbench.wrappers.concat import ParallelModel
from mgbench.wrappers.inplace import MultiGpuModel

__all__ = ["MultiGpuModel", "ParallelModel"]

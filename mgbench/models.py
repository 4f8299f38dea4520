"""Benchmark models and their synthetic inputs.

A model is named three ways: a ``keras.applications`` class (``ResNet50``, built with
``weights=None``), one of mgbench's tiny models for tests and smoke runs, or ``module:function``
for a user's own factory, called as ``function(input_shape=..., classes=...)``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

from mgbench.platform import lazy

APPLICATIONS = (
    "ResNet50",
    "ResNet101",
    "InceptionV3",
    "VGG16",
    "VGG19",
    "Xception",
    "MobileNetV2",
    "DenseNet121",
    "EfficientNetB0",
)
TINY = ("TinyCNN", "TinyMLP")

# keras.applications refuse images smaller than these (their documented minimums).
MIN_IMAGE_SIZE = {
    "InceptionV3": 75,
    "Xception": 71,
    "ResNet50": 32,
    "ResNet101": 32,
    "VGG16": 32,
    "VGG19": 32,
    "MobileNetV2": 32,
    "DenseNet121": 32,
    "EfficientNetB0": 32,
}


def is_factory(name: str) -> bool:
    return ":" in name


def known_model(name: str) -> bool:
    return name in APPLICATIONS or name in TINY or is_factory(name)


def _tiny_cnn(input_shape: tuple[int, ...], classes: int, keras: Any) -> Any:
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x), name="TinyCNN")


def _tiny_mlp(input_shape: tuple[int, ...], classes: int, keras: Any) -> Any:
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x), name="TinyMLP")


def model_factory(name: str, keras: ModuleType) -> Callable[..., Any]:
    """``factory(input_shape=..., classes=...)`` for a model name; ValueError if unknown.

    ``keras`` is the backend's Keras module (Keras 3, or Keras 2 as ``tf_keras``): the named
    models are built with it; a user's ``module:function`` factory brings its own.
    """
    if name in TINY:
        tiny = _tiny_cnn if name == "TinyCNN" else _tiny_mlp
        return lambda input_shape, classes: tiny(input_shape, classes, keras)
    if name in APPLICATIONS:
        application = getattr(keras.applications, name)

        def build(input_shape: tuple[int, ...], classes: int) -> Any:
            # Logits out, like the tiny models, so every model shares one from_logits loss.
            return application(
                weights=None,
                input_shape=input_shape,
                classes=classes,
                classifier_activation=None,
            )

        return build
    if is_factory(name):
        module_name, _, function_name = name.partition(":")
        try:
            return getattr(importlib.import_module(module_name), function_name)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"model factory {name!r} cannot be loaded: {error}") from error
    raise ValueError(
        f"unknown model {name!r}; known: {', '.join(APPLICATIONS + TINY)}, or 'module:function'"
    )


def input_shape(image_size: int) -> tuple[int, int, int]:
    return (image_size, image_size, 3)


IMAGE_ITEMSIZE = 4  # the synthetic images are float32, whatever the model computes in


def batch_image_bytes(image_size: int, batch: int) -> int:
    """The bytes of ``batch`` synthetic images: what one copy of the batch's inputs takes."""
    return batch * math.prod(input_shape(image_size)) * IMAGE_ITEMSIZE


def synthetic_dataset(
    image_size: int,
    classes: int,
    global_batch: int,
    *,
    input: str = "host",
    first_replica: str | None = None,
) -> Any:
    """One synthetic batch repeated forever, in host memory (``input="host"``, a tf.data
    pipeline, what the claim is about) or prefetched onto ``first_replica`` (``"device"``)."""
    tf = lazy.tensorflow()
    images, labels = synthetic_batch(image_size, classes, global_batch)
    with tf.device("/device:CPU:0"):
        dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
    if input == "device" and first_replica is not None:
        dataset = dataset.apply(tf.data.experimental.prefetch_to_device(first_replica))
    return dataset


def synthetic_batch(image_size: int, classes: int, batch: int, seed: int = 0) -> tuple[Any, Any]:
    """Random images and integer labels as numpy arrays (host memory)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch, *input_shape(image_size))).astype("float32")
    labels = rng.integers(0, classes, size=(batch,)).astype("int32")
    return images, labels

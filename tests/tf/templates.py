"""Tiny Keras templates for tests: small enough to train in milliseconds on a CPU."""

from __future__ import annotations

import numpy as np

from mgbench.platform import lazy

keras = lazy.keras()
tf = lazy.tensorflow()


def _on_host(build):
    def wrapper(seed: int = 0):
        keras.utils.set_random_seed(seed)
        with tf.device("/cpu:0"):
            return build()

    return wrapper


@_on_host
def mlp():
    inputs = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(hidden))


@_on_host
def two_in_two_out():
    image = keras.Input((6,), name="image")
    meta = keras.Input((2,), name="meta")
    joined = keras.layers.Concatenate()([keras.layers.Dense(5, activation="tanh")(image), meta])
    score = keras.layers.Dense(1, name="score")(joined)
    label = keras.layers.Dense(3, name="label")(joined)
    return keras.Model([image, meta], [score, label])


@_on_host
def siamese():
    left = keras.Input((4,), name="left")
    right = keras.Input((4,), name="right")
    shared = keras.layers.Dense(2, name="embed")
    return keras.Model([left, right], [shared(left), shared(right)])


@_on_host
def with_scalar_output():
    inputs = keras.Input((4,))
    logits = keras.layers.Dense(3, name="logits")(inputs)
    mean = keras.layers.Lambda(lambda t: keras.ops.mean(t), output_shape=(), name="mean")(logits)
    return keras.Model(inputs, [logits, mean])


@_on_host
def rnn_with_state():
    sequence = keras.Input((5, 3), name="sequence")
    state = keras.Input((4,), name="state")
    hidden = keras.layers.GRU(4)(sequence, initial_state=state)
    return keras.Model([sequence, state], keras.layers.Dense(2)(hidden))


def arrays(*shapes: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype("float32") for shape in shapes]

"""Session-wide device simulation: it must happen once, before the TensorFlow runtime starts."""

from __future__ import annotations

import os

SIMULATED_REPLICAS = 3


def pytest_configure(config):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from mgbench import devices

    devices.simulate(SIMULATED_REPLICAS)

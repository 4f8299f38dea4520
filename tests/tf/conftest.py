"""Session-wide device simulation: it must happen once, before the TensorFlow runtime starts."""

from __future__ import annotations

import os

SIMULATED_REPLICAS = 3


def pytest_configure(config):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if config.getoption("numprocesses", None) and "PYTEST_XDIST_WORKER" not in os.environ:
        return  # pytest-xdist's controller runs no test: only its workers need TensorFlow
    from mgbench import devices

    devices.simulate(SIMULATED_REPLICAS)

"""Backends by name: ``get("keras3")``, ``get("tf_keras")``, ``get("jax")``, and who runs a
strategy: ``running("multiworker")``. Each backend is declared once, in
:data:`mgbench.vocabulary.BACKENDS` (its name, strategies, framework and class), so the suite
checker below this room knows them without importing any; :mod:`mgbench.backends.base` says what
each offers. Importing this package, or asking for a backend, imports no framework: each backend
loads its framework when a method first needs it.
"""

from __future__ import annotations

import importlib
from functools import cache

from mgbench.backends.base import Backend
from mgbench.vocabulary import BACKEND_NAMES, BACKENDS, backends_running


def names() -> tuple[str, ...]:
    """The known backend names, in a stable order."""
    return BACKEND_NAMES


def running(strategy: str) -> tuple[str, ...]:
    """The backends that run ``strategy`` (each declares its strategies in
    :data:`mgbench.vocabulary.BACKENDS`)."""
    return backends_running(strategy)


@cache
def get(name: str) -> Backend:
    """The backend called ``name``; a ValueError names the known ones."""
    entry = BACKENDS.get(name)
    if entry is None:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(names())}")
    module_name, _, class_name = entry.implementation.partition(":")
    backend: Backend = getattr(importlib.import_module(module_name), class_name)()
    return backend

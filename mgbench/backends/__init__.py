"""Backends by name: ``get("keras3")``, ``get("tf_keras")``, ``get("jax")``;
:mod:`mgbench.backends.base` says what each offers. Importing this package, or asking for a
backend, imports no framework: each backend loads its framework when a method first needs it.
"""

from __future__ import annotations

import importlib
from functools import cache

from mgbench.backends.base import Backend

# name -> "module:class"; a new backend is one line here and one module beside this one.
_REGISTRY = {
    "keras3": "mgbench.backends.keras3:Keras3Backend",
    "tf_keras": "mgbench.backends.tf_keras:TfKerasBackend",
    "jax": "mgbench.backends.jax_keras:JaxBackend",
}


def names() -> tuple[str, ...]:
    """The known backend names, in a stable order."""
    return tuple(_REGISTRY)


@cache
def get(name: str) -> Backend:
    """The backend called ``name``; a ValueError names the known ones."""
    target = _REGISTRY.get(name)
    if target is None:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(names())}")
    module_name, _, class_name = target.partition(":")
    backend: Backend = getattr(importlib.import_module(module_name), class_name)()
    return backend

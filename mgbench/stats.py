"""Statistics as pure functions over samples (scipy.stats underneath)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return float(np.median(np.asarray(values, dtype=float)))

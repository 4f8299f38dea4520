"""Output naming shared by both backends' wrappers (pure, no Keras)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def unique_output_names(names: Sequence[str]) -> list[str]:
    """Suffix repeated names ``_1``, ``_2``... (a Siamese template reuses one output layer)."""
    totals = Counter(names)
    seen: Counter[str] = Counter()
    unique = []
    for name in names:
        if totals[name] > 1:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        unique.append(name)
    return unique

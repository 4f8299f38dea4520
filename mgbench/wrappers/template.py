"""What both backends' wrappers share that needs no Keras: output names, save/load routing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any


class TemplateOwnsWeights:
    """Mixin: saving and loading act on ``self.inner_model``, which holds the only weights
    (as both originals did), so a checkpoint loads into a bare template."""

    inner_model: Any

    def save(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner_model.save(*args, **kwargs)

    def save_weights(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner_model.save_weights(*args, **kwargs)

    def load_weights(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner_model.load_weights(*args, **kwargs)


def unique_output_names(names: Sequence[str]) -> list[str]:
    """Suffix repeated names ``_1``, ``_2``... (a Siamese template reuses one output layer)."""
    totals = Counter(names)
    taken = set(names)
    seen: Counter[str] = Counter()
    unique = []
    for name in names:
        if totals[name] > 1:
            candidate = name
            while candidate in taken:
                seen[name] += 1
                candidate = f"{name}_{seen[name]}"
            taken.add(candidate)
            name = candidate
        unique.append(name)
    return unique

"""Build each strategy here and report its placement (`mgbench placement`)."""

from __future__ import annotations

from mgbench import models, placement, strategies


def placement_tables(
    replicas: int,
    *,
    model: str = "TinyCNN",
    image_size: int = 32,
    classes: int = 10,
    batch_per_replica: int = 4,
    strategy_names: tuple[str, ...] = ("inplace", "concat"),
) -> str:
    """Placement tables of ``strategy_names`` for one model; devices must be prepared already."""
    sections = []
    for name in strategy_names:
        count = 1 if name == "single" else replicas
        built = strategies.build_compiled(
            name, model, image_size=image_size, classes=classes, replicas=count
        )
        x, y = models.synthetic_batch(image_size, classes, batch_per_replica * count)
        report = placement.trace_train_step(built.model, x, y)
        sections.append(
            placement.format_placement(report, f"## {name}: {model}, {count} replica(s)")
        )
    return "\n\n".join(sections)

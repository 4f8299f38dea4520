"""Build each strategy here and report its placement (`mgbench placement`)."""

from __future__ import annotations

from mgbench import devices, placement
from mgbench.backends import keras3 as strategies
from mgbench.platform import lazy, models

CPU_NOTE = "CPU simulation: host and default device are both CPU:0, so the two splits coincide."


def placement_tables(
    replicas: int,
    *,
    model: str = "TinyCNN",
    image_size: int = 32,
    classes: int = 10,
    batch_per_replica: int = 4,
    backend: str = "keras3",
    strategy_names: tuple[str, ...] = ("inplace", "concat"),
    virtual_gpus: int = 0,
    virtual_gpu_memory_mb: int = 0,
) -> str:
    """Prepare this fresh process's devices, build each strategy, and return its placement."""
    if backend == "tf_keras":
        lazy.tensorflow().compat.v1.disable_eager_execution()  # before any TF op exists
    mode = devices.prepare(
        replicas, virtual_gpus=virtual_gpus, virtual_gpu_memory_mb=virtual_gpu_memory_mb
    )
    sections = [f"devices: {mode}; backend: {backend}"]
    if mode == "cpu-simulation":
        sections.append(CPU_NOTE)
    for name in strategy_names:
        count = 1 if name == "single" else replicas
        if backend == "tf_keras":
            from mgbench.backends.tf_keras import build
            from mgbench.backends.tf_keras import placement as legacy_placement

            built = build.build_compiled(
                name, model, image_size=image_size, classes=classes, replicas=count
            )
            report = legacy_placement.trace_train_step(built.model)
        else:
            built = strategies.build_compiled(
                name, model, image_size=image_size, classes=classes, replicas=count
            )
            x, y = models.synthetic_batch(image_size, classes, batch_per_replica * count)
            report = placement.trace_train_step(built.model, x, y)
        title = f"## {name} ({backend}): {model}, {count} replica(s)"
        sections.append(placement.format_placement(report, title))
    return "\n\n".join(sections)

"""Build each strategy here and report its placement (`mgbench placement`)."""

from __future__ import annotations

from mgbench import backends, placement, transfers
from mgbench.backends.base import BuildSpec
from mgbench.platform import models

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
    chosen = backends.get(backend)
    mode = chosen.prepare_process(
        replicas, virtual_gpus=virtual_gpus, virtual_gpu_memory_mb=virtual_gpu_memory_mb
    ).mode
    sections = [f"devices: {mode}; backend: {backend}"]
    audited: dict[str, dict[str, transfers.TransferAudit]] = {}
    if mode == "cpu-simulation":
        sections.append(CPU_NOTE)
    for name in strategy_names:
        count = 1 if name == "single" else replicas
        spec = BuildSpec(
            model=model,
            image_size=image_size,
            classes=classes,
            strategy=name,
            replicas=count,
            batch_per_replica=batch_per_replica,
        )
        built = chosen.build_compiled(spec)
        x, y = models.synthetic_batch(image_size, classes, spec.global_batch)
        traced, reason = chosen.trace_step(built, x, y)
        title = (
            f"## {name} ({backend}): {model} {image_size}px, {count} replica(s) x "
            f"{batch_per_replica} images"
        )
        if traced is None:
            sections.append(f"{title}\n{reason}")
            continue
        audits = {
            resolution: transfers.audit(
                traced, global_batch=spec.global_batch, resolution=resolution
            )
            for resolution in transfers.RESOLUTIONS
        }
        audited[name] = audits
        sections.append(placement.format_placement(traced.placement(), title))
        sections.append(transfers.format_transfers(audits))
    return "\n\n".join(sections)

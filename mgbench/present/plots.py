"""PNG plots beside a report: throughput against replica count, and memory per device.

matplotlib is imported lazily with the Agg backend, so reports render on machines without a
display. Functions return the paths they wrote.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from mgbench import analysis
from mgbench.config.suite import backend_suffix
from mgbench.present.formats import MIB

STRATEGY_ORDER = ("single", "inplace", "concat", "mirrored")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _slug(*parts: object) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(str(p) for p in parts))


def _legend_below(axes) -> None:
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, frameon=False)


def throughput_plots(
    cells: Sequence[analysis.CellResult], folder: Path, *, caption: str = ""
) -> list[Path]:
    """One plot per model, image size and batch: images/s against replicas, per strategy."""
    plt = _pyplot()
    groups: dict[analysis.CellKey, list[analysis.CellResult]] = {}
    for cell in cells:
        if cell.images_per_s is not None:
            # One plot across replica counts: the key of the workload on one replica.
            workload = dataclasses.replace(cell.key, replicas=1)
            groups.setdefault(workload, []).append(cell)
    written = []
    for key, group in groups.items():
        model, size, batch, backend = key.model, key.image_size, key.batch_per_replica, key.backend
        label = f" ({backend})" if backend_suffix(backend) else ""
        suffix = (backend,) if backend_suffix(backend) else ()
        figure, axes = plt.subplots(figsize=(6, 4))
        for strategy in STRATEGY_ORDER:
            points = sorted(
                (c.cell.replicas, c.images_per_s, c.ci) for c in group if c.strategy == strategy
            )
            if not points:
                continue
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            errors = [
                [y - p[2][0] for y, p in zip(ys, points, strict=True)],
                [p[2][1] - y for y, p in zip(ys, points, strict=True)],
            ]
            axes.errorbar(xs, ys, yerr=errors, marker="o", capsize=4, label=strategy)
        axes.set_xlabel("replicas")
        axes.set_ylabel("images/s (mean over processes, 95% CI)")
        axes.set_title(f"{model} {size}px, batch {batch}/replica{label}")
        axes.set_xticks(sorted({c.cell.replicas for c in group}))
        axes.set_ylim(bottom=0)
        _legend_below(axes)
        if caption:
            figure.text(0.01, 0.01, caption, fontsize=7, color="firebrick")
        figure.tight_layout(rect=(0, 0.04 if caption else 0, 1, 1))
        path = folder / f"throughput-{_slug(model, f'{size}px', f'b{batch}', *suffix)}.png"
        figure.savefig(path, dpi=120)
        plt.close(figure)
        written.append(path)
    return written


def memory_plots(cells: Sequence[analysis.CellResult], folder: Path) -> list[Path]:
    """Per model and replica count: TF peak per device, one bar per strategy (GPU runs only)."""
    plt = _pyplot()
    rows = [r for r in analysis.memory_rows(cells) if r.tf_peak_bytes]
    groups: dict[analysis.CellKey, list[analysis.MemoryRow]] = {}
    for row in rows:
        if row.cell.strategy != "single":
            groups.setdefault(row.cell.key, []).append(row)
    written = []
    for key, group in groups.items():
        model, size, batch, replicas, backend = (
            key.model,
            key.image_size,
            key.batch_per_replica,
            key.replicas,
            key.backend,
        )
        label = f" ({backend})" if backend_suffix(backend) else ""
        suffix = (backend,) if backend_suffix(backend) else ()
        devices = sorted({d for r in group for d in r.tf_peak_bytes})
        figure, axes = plt.subplots(figsize=(6, 4))
        width = 0.8 / len(group)
        for offset, row in enumerate(group):
            xs = [i + offset * width for i in range(len(devices))]
            heights = [row.tf_peak_bytes.get(d, 0) / MIB for d in devices]
            axes.bar(xs, heights, width=width, label=row.cell.strategy)
        axes.set_xticks([i + 0.4 - width / 2 for i in range(len(devices))], devices)
        axes.set_ylabel("TF allocator peak (MiB)")
        axes.set_title(f"{model} {size}px, batch {batch}/replica, {replicas} replicas{label}")
        _legend_below(axes)
        figure.tight_layout()
        name = _slug(model, f"{size}px", f"b{batch}", f"x{replicas}", *suffix)
        path = folder / f"memory-{name}.png"
        figure.savefig(path, dpi=120)
        plt.close(figure)
        written.append(path)
    return written

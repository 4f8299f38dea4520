"""PNG plots beside a report: the claim as a forest of paired intervals, each strategy against its
baselines, throughput against replica count, memory per device, and step-time traces per cell.

matplotlib is imported lazily with the Agg backend, so reports render on machines without a
display. Functions return the paths they wrote. Numbers stay in their data units (bytes, seconds,
%) until drawn; the axes show MiB and ms. The rows a forest draws come from pure functions
(:func:`claim_forest_rows`, :func:`baseline_forest_rows`), so what a picture claims can be tested
without reading pixels.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgbench.analysis import stats
from mgbench.analysis.cells import (
    CellKey,
    CellResult,
    MemoryRow,
    dataparallel_baseline,
    memory_rows,
)
from mgbench.analysis.claim import DEFAULT_CLAIMS, Caveats, Claims, Outcome
from mgbench.analysis.comparisons import (
    PairedComparison,
    paired_comparisons,
    process_pairs,
    strategy_ratios,
)
from mgbench.config.suite import backend_suffix
from mgbench.present import prose
from mgbench.present.formats import MIB
from mgbench.records.record import PAIRED_LABELS, Record
from mgbench.records.run_folder import RunFolder
from mgbench.vocabulary import WRAPPERS, Strategy

STRATEGY_ORDER = (Strategy.SINGLE, *WRAPPERS, Strategy.MIRRORED)
CPU_SIMULATION = "CPU simulation"
VIRTUAL_GPUS = "virtual GPUs"
# What a marked row's legend says: such hardware cannot show the claim's mechanism.
MARKED_LEGEND = {
    CPU_SIMULATION: "CPU simulation: not evidence about GPUs",
    VIRTUAL_GPUS: "virtual GPUs on one chip: not the claim's hardware",
}
BASELINES_FOREST = "baselines-forest.png"
NO_ESTIMATE = "no estimate"
A_COLOUR, B_COLOUR = "tab:blue", "tab:orange"
# A paired process's strategies by label (a, b, c, ...): A and B as ever, then the others'.
BLOCK_COLOURS = (A_COLOUR, B_COLOUR, "tab:green", "tab:purple", "tab:brown", "tab:pink")
FIRST_DEVICE_COLOUR = "tab:red"
DPI = 120
FOREST_WIDTH = 11.0  # inches: labels left, verdicts right, and the axes between


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _slug(*parts: object) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(str(p) for p in parts))


def _legend_below(axes: Any) -> None:
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, frameon=False)


def _save(plt: Any, figure: Any, path: Path, *, tight: bool = False) -> Path:
    # Forests write their verdicts right of the axes; only a tight box keeps them in the file.
    figure.savefig(path, dpi=DPI, bbox_inches="tight" if tight else None)
    plt.close(figure)
    return path


def _ordered(labels: set[str]) -> list[str]:
    known = [s for s in STRATEGY_ORDER if s in labels]
    return known + sorted(labels - set(known))


# -- forests: rows as data -------------------------------------------------------------------


@dataclass(frozen=True)
class ForestRow:
    """One row of a forest plot, top to bottom; percentages, as the analysis gives them."""

    label: str  # the comparison, left of the row
    verdict: str  # short form, right of the row
    estimate: float | None  # None: no estimate; the row stays and says why
    low: float | None  # the CI; None when there is none to show (too few processes)
    high: float | None
    marked: str | None  # CPU_SIMULATION or VIRTUAL_GPUS: hardware that cannot show the claim
    against_claim: bool = True  # False: read against 0 (an A/A calibration pair, a baseline)


def hardware_marker(records: Sequence[Record]) -> str | None:
    """CPU_SIMULATION or VIRTUAL_GPUS when any record ran on such hardware, else None."""
    return _marker(Caveats.of(r.device_mode for r in records))


def _marker(caveats: Caveats) -> str | None:
    if caveats.cpu_simulation:
        return CPU_SIMULATION
    if caveats.virtual_gpus:
        return VIRTUAL_GPUS
    return None


def paired_short_verdict(comparison: PairedComparison, caveats: Caveats) -> str:
    """The report's verdict in a few words, qualified by the hardware as the report's is
    (:meth:`Caveats.qualify`); the rounds that would decide are left to the report."""
    estimate, verdict = comparison.estimate, comparison.verdict
    if estimate is None:
        return f"{NO_ESTIMATE} ({', '.join(comparison.statuses) or 'no rounds'})"
    if verdict is None:
        low, high = estimate.ci_pct
        if low <= 0 <= high:
            return "CI covers 0"
        return f"{comparison.a} {'faster' if low > 0 else 'slower'}"
    verdict = caveats.qualify(verdict)
    if verdict.outcome is Outcome.SMALLER:
        return verdict.text  # its detail is short and says what the CI says about 0
    return verdict.outcome.value


def claim_forest_rows(
    comparisons: Sequence[PairedComparison], records: Sequence[Record]
) -> list[ForestRow]:
    """One row per paired comparison, in their order, rows without an estimate kept.

    A row is marked by the hardware its own records ran on; a comparison none of whose records
    says (every process skipped) takes the run's.
    """
    run_caveats = Caveats.of(r.device_mode for r in records)
    by_pair: dict[tuple[CellKey, str, str], list[Record]] = {}
    for record in records:
        if record.device_mode is None:
            continue
        for a, b in process_pairs(record.cell):
            by_pair.setdefault((CellKey.of(record.cell), a, b), []).append(record)
    rows = []
    for comparison in comparisons:
        own = by_pair.get((comparison.key, comparison.a, comparison.b))
        caveats = Caveats.of(r.device_mode for r in own) if own else run_caveats
        estimate = comparison.estimate
        rows.append(
            ForestRow(
                label=f"{comparison.key.label} {comparison.a} vs {comparison.b}",
                verdict=paired_short_verdict(comparison, caveats),
                estimate=estimate.speedup_pct if estimate else None,
                low=estimate.ci_pct[0] if estimate else None,
                high=estimate.ci_pct[1] if estimate else None,
                marked=_marker(caveats),
                against_claim=comparison.against_range,
            )
        )
    return rows


def _comparison_row(
    label: str, comparison: stats.Comparison | None, marked: str | None, why_none: str
) -> ForestRow:
    if comparison is None:
        return ForestRow(label, f"{NO_ESTIMATE} ({why_none})", None, None, None, marked, False)
    verdict = stats.change_verdict(comparison).outcome.value
    # The report's rule: a bootstrap over fewer processes understates their spread.
    shown = min(comparison.processes) >= stats.MIN_BOOTSTRAP_PROCESSES
    if not shown:
        n1, n2 = comparison.processes
        verdict = f"{verdict} ({n1} and {n2} processes: CI not shown)"
    low, high = comparison.ci_pct if shown else (None, None)
    return ForestRow(label, verdict, comparison.change_pct, low, high, marked, False)


def baseline_forest_rows(
    cells: Sequence[CellResult],
    *,
    alpha: float = stats.DEFAULT_ALPHA,
    seed: int = 0,
) -> dict[str, list[ForestRow]]:
    """Each multi-device cell's throughput change (%) against ``mirrored`` on its workload, and
    against one-process ``dataparallel`` (Keras 3 on JAX, any backend's cells) when the run has
    it; keyed by the baseline, rows in the cells' order, baselines without rows left out."""
    labels = {c.cell.strategy_label for c in cells if c.cell.replicas > 1} - {Strategy.MIRRORED}
    ratios = {
        (ratio.key, label): ratio
        for label in labels
        for ratio in strategy_ratios(cells, label, Strategy.MIRRORED, alpha=alpha, seed=seed)
    }
    vs_mirrored, vs_dataparallel = [], []
    for cell in cells:
        if cell.cell.replicas < 2:
            continue
        label = f"{cell.key.label} {cell.cell.strategy_label}"
        marked = hardware_marker(cell.records)
        ratio = ratios.get((cell.key, cell.cell.strategy_label))
        if ratio is not None:
            vs_mirrored.append(
                _comparison_row(label, ratio.comparison, marked, "no successful run")
            )
        baseline = dataparallel_baseline(cells, cell.key)
        if baseline is None or baseline is cell:
            continue
        comparison = None
        if cell.processes:
            comparison = stats.compare(cell.processes, baseline.processes, alpha=alpha, seed=seed)
        vs_dataparallel.append(_comparison_row(label, comparison, marked, "no successful run"))
    groups = {Strategy.MIRRORED: vs_mirrored, Strategy.DATAPARALLEL: vs_dataparallel}
    return {name: rows for name, rows in groups.items() if rows}


# -- forests: drawing ------------------------------------------------------------------------


def _forest_xlim(
    rows: Sequence[ForestRow], band: tuple[float, float] | None
) -> tuple[float, float]:
    values = [0.0, *(band or ())]
    for row in rows:
        values += [v for v in (row.estimate, row.low, row.high) if v is not None]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.08, 1.0)
    return low - pad, high + pad


def row_text(row: ForestRow) -> str:
    """What the right of a row says: the estimate and its CI, below them the short verdict."""
    if row.estimate is None:
        return row.verdict
    interval = ""
    if row.low is not None and row.high is not None:
        interval = f" [{row.low:+.1f}, {row.high:+.1f}]"
    return f"{row.estimate:+.1f}%{interval}\n{row.verdict}"


def _draw_forest(
    axes: Any,
    rows: Sequence[ForestRow],
    *,
    band: tuple[float, float] | None,
    xlim: tuple[float, float],
) -> None:
    from matplotlib.transforms import blended_transform_factory

    beside = blended_transform_factory(axes.transAxes, axes.transData)
    ys = [len(rows) - 1 - index for index in range(len(rows))]  # the first row on top
    if band is not None:
        axes.axvspan(*band, color="tab:green", alpha=0.15, lw=0)
    axes.axvline(0, color="black", lw=1)
    for y, row in zip(ys, rows, strict=True):
        colour = "0.45" if row.marked else "tab:blue"
        if row.marked:
            axes.axhspan(y - 0.45, y + 0.45, facecolor="none", edgecolor="0.8", hatch="///", lw=0)
        if row.estimate is None:
            axes.text(
                0.5,
                y,
                NO_ESTIMATE,
                transform=beside,
                ha="center",
                va="center",
                style="italic",
                color="0.35",
            )
            continue
        error = None
        if row.low is not None and row.high is not None:
            error = [[row.estimate - row.low], [row.high - row.estimate]]
        axes.errorbar(
            row.estimate,
            y,
            xerr=error,
            fmt="o" if row.against_claim or band is None else "D",
            color=colour,
            mfc="white" if row.marked else colour,
            capsize=4,
            ms=6,
            lw=1.5,
        )
    axes.set_yticks(ys, [row.label for row in rows], fontsize=8)
    axes.set_ylim(-0.6, len(rows) - 0.4)
    axes.set_xlim(*xlim)
    axes.grid(axis="x", color="0.9", lw=0.8)
    axes.set_axisbelow(True)
    # Tick labels on a twin axis, not free text: tight_layout then leaves room for them.
    right = axes.twinx()
    right.set_ylim(axes.get_ylim())
    right.set_yticks(ys, [row_text(row) for row in rows], fontsize=8)
    right.tick_params(axis="y", length=0)


def _forest_legend(figure: Any, rows: Sequence[ForestRow], band_label: str | None, ci: str) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Line2D([], [], color="tab:blue", marker="o", label=f"estimate, {ci} CI")]
    if band_label:
        handles.append(Patch(color="tab:green", alpha=0.15, label=band_label))
    handles.append(Line2D([], [], color="black", lw=1, label="0: no difference"))
    for marker in dict.fromkeys(row.marked for row in rows if row.marked):
        handles.append(
            Patch(facecolor="white", edgecolor="0.45", hatch="///", label=MARKED_LEGEND[marker])
        )
    figure.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        frameon=False,
        fontsize=8,
        bbox_to_anchor=(0.5, 0),
    )


def _forest_height(rows: int) -> float:
    return 0.6 * rows + 1.0


def forest_plot(
    rows: Sequence[ForestRow],
    path: Path,
    *,
    title: str,
    xlabel: str,
    band: tuple[float, float] | None = None,
    band_label: str | None = None,
    ci: str = "95%",
    caption: str = "",
    others_note: str = "",
) -> Path:
    """One forest: a row per comparison, its estimate and CI, the band shaded, 0 marked;
    ``others_note`` says how rows read against 0 instead of the band differ."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(FOREST_WIDTH, _forest_height(len(rows)) + 0.8))
    _draw_forest(axes, rows, band=band, xlim=_forest_xlim(rows, band))
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel)
    _finish_forest(figure, rows, band_label, ci, caption, others_note)
    return _save(plt, figure, path, tight=True)


def _finish_forest(
    figure: Any,
    rows: Sequence[ForestRow],
    band_label: str | None,
    ci: str,
    caption: str,
    others_note: str = "",
) -> None:
    # The legend takes a fixed 0.6 inch at the foot, whatever the figure's height.
    figure.tight_layout(rect=(0, 0.6 / figure.get_figheight(), 1, 1))
    _forest_legend(figure, rows, band_label, ci)
    notes = [caption] if caption else []
    others = any(not row.against_claim and row.estimate is not None for row in rows)
    if others and band_label and others_note:
        notes.append(others_note)
    if notes:
        figure.text(0.01, -0.02, "; ".join(notes), fontsize=7, color="firebrick")


def claim_forest(
    records: Sequence[Record],
    folder: Path,
    *,
    claims: Claims = DEFAULT_CLAIMS,
    alpha: float = stats.DEFAULT_ALPHA,
) -> list[Path]:
    """``claim-forest.png``: every paired comparison's speed-up of A over B with its CI, the
    claims' pairs first, against the primary claim's band (drawn only when the run has that
    pair); nothing when the run has no paired comparison."""
    order = [c.pair for c in claims.items]
    comparisons = sorted(
        paired_comparisons(records, alpha=alpha, claims=claims),
        key=lambda c: order.index((c.a, c.b)) if (c.a, c.b) in order else len(order),
    )
    rows = claim_forest_rows(comparisons, records)
    if not rows:
        return []
    claim = claims.primary
    a, b = prose.split_name(claim.a), prose.split_name(claim.b)
    ci = stats.confidence_label(alpha)
    has_pair = claim.has_range and any(c.claim == claim for c in comparisons)
    path = forest_plot(
        rows,
        RunFolder(folder).claim_forest,
        title=f"Paired in-process: speed-up of A over B (the claim: {a} over {b})",
        xlabel=f"speed-up of A over B, % (paired rounds; {ci} CI)",
        band=claim.range_pct if has_pair else None,
        band_label=f"claimed {claim.range_text}" if has_pair else "",
        ci=ci,
        others_note=f"diamonds: not {prose.pair_words(claim)}, read against 0, not the claim",
    )
    return [path]


def baselines_forest(
    cells: Sequence[CellResult],
    folder: Path,
    *,
    alpha: float = stats.DEFAULT_ALPHA,
    caption: str = "",
) -> list[Path]:
    """``baselines-forest.png``: each multi-device cell against mirrored (and one-process
    dataparallel), one panel per baseline; nothing when no cell has a baseline."""
    groups = baseline_forest_rows(cells, alpha=alpha)
    if not groups:
        return []
    plt = _pyplot()
    every = [row for rows in groups.values() for row in rows]
    heights = [_forest_height(len(rows)) for rows in groups.values()]
    figure, panels = plt.subplots(
        len(groups),
        1,
        figsize=(FOREST_WIDTH, sum(heights) + 0.8 * len(groups)),
        height_ratios=heights,
        squeeze=False,
    )
    ci = stats.confidence_label(alpha)
    xlim = _forest_xlim(every, None)  # one scale, so the panels can be read against each other
    names: dict[str, str] = {
        Strategy.MIRRORED: "MirroredStrategy",
        Strategy.DATAPARALLEL: "one-process DataParallel (JAX)",
    }
    for axes, (name, rows) in zip(panels[:, 0], groups.items(), strict=True):
        _draw_forest(axes, rows, band=None, xlim=xlim)
        axes.set_title(f"Throughput against {names[name]} on the same workload", fontsize=10)
        axes.set_xlabel(f"images/s change over {name}, % (bootstrap {ci} CI)")
    _finish_forest(figure, every, None, ci, caption)
    return [_save(plt, figure, folder / BASELINES_FOREST, tight=True)]


# -- throughput and memory -------------------------------------------------------------------


def throughput_plots(cells: Sequence[CellResult], folder: Path, *, caption: str = "") -> list[Path]:
    """One plot per model, image size and batch: images/s against replicas, per strategy."""
    plt = _pyplot()
    groups: dict[CellKey, list[CellResult]] = {}
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
        for strategy in _ordered({c.cell.strategy_label for c in group}):
            points = sorted(
                (c.cell.replicas, c.images_per_s, c.ci)
                for c in group
                if c.cell.strategy_label == strategy
                and c.images_per_s is not None
                and c.ci is not None
            )
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
        written.append(_save(plt, figure, path))
    return written


def device_order(name: str) -> tuple[str, int, str]:
    """Sort key of a device name: GPU:10 after GPU:9, not after GPU:1."""
    kind, _, index = name.rpartition(":")
    return (kind, int(index), name) if index.isdigit() else (name, -1, name)


def memory_plots(cells: Sequence[CellResult], folder: Path) -> list[Path]:
    """Per workload and replica count: TF allocator peak per device, grouped by strategy, the
    first device (where concat gathers and the host feeds) apart from the other replicas."""
    plt = _pyplot()
    rows = [r for r in memory_rows(cells) if r.tf_peak_bytes]
    groups: dict[CellKey, list[MemoryRow]] = {}
    for row in rows:
        if row.cell.strategy != Strategy.SINGLE:
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
        order = {s: i for i, s in enumerate(_ordered({r.cell.cell.strategy_label for r in group}))}
        group = sorted(group, key=lambda r: order[r.cell.cell.strategy_label])
        devices = sorted({d for r in group for d in r.tf_peak_bytes}, key=device_order)
        first, others = devices[0], devices[1:]
        figure, axes = plt.subplots(figsize=(max(6.0, 1.2 + 0.35 * len(devices) * len(group)), 4))
        width = 0.8 / len(devices)
        cmap = plt.get_cmap("Blues")
        for slot, device in enumerate(devices):
            xs = [i + (slot - (len(devices) - 1) / 2) * width for i in range(len(group))]
            heights = [r.tf_peak_bytes.get(device, 0) / MIB for r in group]
            name: str | None
            if device == first:
                colour, name = FIRST_DEVICE_COLOUR, f"{device} (first device)"
            else:
                colour = cmap(0.45 + 0.45 * slot / max(1, len(others)))
                name = device if len(others) < 4 else ("other replicas" if slot == 1 else None)
            axes.bar(xs, heights, width=width, color=colour, label=name)
        for index, row in enumerate(group):
            rest = [row.tf_peak_bytes[d] for d in others if d in row.tf_peak_bytes]
            top = row.tf_peak_bytes.get(first)
            if rest and top:
                mean = sum(rest) / len(rest)
                axes.annotate(
                    f"{first}: {top / mean:.2f}x others' mean",
                    (index, max(top, *rest) / MIB),
                    xytext=(0, 4),
                    textcoords="offset points",
                    ha="center",
                    fontsize=7,
                )
        axes.set_xticks(range(len(group)), [r.cell.cell.strategy_label for r in group])
        axes.set_ylabel("TF allocator peak (MiB)")
        axes.set_ylim(top=axes.get_ylim()[1] * 1.1)  # room for the ratios above the bars
        axes.set_title(f"{model} {size}px, batch {batch}/replica, {replicas} replicas{label}")
        _legend_below(axes)
        figure.tight_layout()
        name = _slug(model, f"{size}px", f"b{batch}", f"x{replicas}", *suffix)
        written.append(_save(plt, figure, folder / f"memory-{name}.png"))
    return written


# -- step-time traces ------------------------------------------------------------------------


def _traced_cells(records: Sequence[Record]) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = {}
    for record in records:
        if record.ok and (record.paired is not None or record.timing is not None):
            groups.setdefault(record.cell_id, []).append(record)
    return groups


def _ms(seconds: Sequence[float]) -> list[float]:
    return [s * 1000 for s in seconds]


def _isolated_trace(plt: Any, cell_id: str, group: Sequence[Record]) -> Any:
    figure, axes = plt.subplots(figsize=(8, 3.8))
    warmups = [len(r.timing.warmup_step_s or ()) for r in group if r.timing]
    if max(warmups, default=0):
        axes.axvspan(-0.5, max(warmups) - 0.5, color="0.9", label="warm-up (not timed)")
    firsts = []
    for record in group:
        timing = record.timing
        if timing is None:
            continue
        firsts.append(timing.first_step_s)
        warm = timing.warmup_step_s or ()
        steps = _ms((*warm, *timing.step_s))
        axes.plot(range(len(steps)), steps, marker=".", lw=1, label=f"process {record.repeat}")
    who = " (the chief's steps)" if group[0].cell.multiprocess else ""
    axes.set_title(
        f"{cell_id}{who}\nfirst step (tracing, median {stats.median(firsts):.2f} s) not shown",
        fontsize=9,
    )
    axes.set_xlabel("step (warm-up, then timed)")
    axes.set_ylabel("step time (ms)")
    axes.set_ylim(bottom=0)
    _legend_below(axes)
    return figure


def _block_colour(label: str) -> str:
    index = PAIRED_LABELS.index(label)
    return BLOCK_COLOURS[index % len(BLOCK_COLOURS)]


def _paired_trace(plt: Any, cell_id: str, group: Sequence[Record]) -> Any:
    """A panel a process: every strategy's blocks in the order they ran (k series)."""
    figure, panels = plt.subplots(
        len(group), 1, sharex=True, sharey=True, figsize=(9, 1.3 + 1.1 * len(group)), squeeze=False
    )
    held = group[0].cell.paired_strategies
    for axes, record in zip(panels[:, 0], group, strict=True):
        timings = record.paired
        if timings is None:
            continue
        x = 0
        for paired_round in timings.rounds:
            for label in paired_round.labels_in_order:
                steps = _ms(paired_round.blocks[PAIRED_LABELS.index(label)])
                colour = _block_colour(label)
                axes.plot(range(x, x + len(steps)), steps, color=colour, marker=".", ms=3, lw=1)
                x += len(steps)
        axes.set_ylabel(f"process {record.repeat}\nms", fontsize=8)
    from matplotlib.lines import Line2D

    labels = PAIRED_LABELS[: len(held)]
    handles = [
        Line2D([], [], color=_block_colour(label), marker=".", label=f"{label.upper()}: {name}")
        for label, name in zip(labels, held, strict=True)
    ]
    # Set once, after every panel has its data: the panels share one scale, outliers included.
    top = max(
        (s for r in group if r.paired for x in r.paired.rounds for b in x.blocks for s in b),
        default=0.0,
    )
    orders = "ABBA..." if len(held) == 2 else "a Williams cycle"
    panels[0, 0].set_ylim(0, top * 1000 * 1.05 or 1)
    panels[-1, 0].set_xlabel(f"timed step, blocks in the order they ran ({orders})")
    panels[-1, 0].legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.45),
        ncol=len(held),
        frameon=False,
    )
    panels[0, 0].set_title(
        f"{cell_id}: paired blocks per process (first step of each strategy not shown)",
        fontsize=9,
    )
    return figure


def step_plots(records: Sequence[Record], folder: Path, *, caption: str = "") -> list[Path]:
    """``steps-<cell id>.png`` per cell with a successful process: every process's step times,
    warm-up shaded; a paired cell's A and B blocks in the order they ran, a panel a process."""
    plt = _pyplot()
    written = []
    for cell_id, group in _traced_cells(records).items():
        if group[0].cell.paired:
            figure = _paired_trace(plt, cell_id, [r for r in group if r.paired is not None])
        else:
            figure = _isolated_trace(plt, cell_id, [r for r in group if r.timing is not None])
        if caption:
            figure.text(0.01, 0.005, caption, fontsize=7, color="firebrick")
        figure.tight_layout(rect=(0, 0.03 if caption else 0, 1, 1))
        written.append(_save(plt, figure, folder / f"steps-{_slug(cell_id)}.png"))
    return written


# -- everything a report writes --------------------------------------------------------------


def report_plots(
    records: Sequence[Record],
    cells: Sequence[CellResult],
    folder: Path,
    *,
    claims: Claims = DEFAULT_CLAIMS,
    alpha: float = stats.DEFAULT_ALPHA,
    caption: str = "",
) -> list[Path]:
    """Every plot of a run, in a stable order: the claim forest, the baselines forest,
    throughput, memory, then the step traces in the cells' order of first appearance."""
    return [
        *claim_forest(records, folder, claims=claims, alpha=alpha),
        *baselines_forest(cells, folder, alpha=alpha, caption=caption),
        *throughput_plots(cells, folder, caption=caption),
        *memory_plots(cells, folder),
        *step_plots(records, folder, caption=caption),
    ]

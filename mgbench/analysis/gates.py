"""Regression gates over runs: fail only on a significant AND large enough change.

Absolute times differ from machine to machine, so the gate between two runs is for one machine;
the ratio gate compares two strategies inside one run and does not care how fast the machine is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mgbench import analysis
from mgbench.analysis import stats


@dataclass(frozen=True)
class GateLine:
    subject: str
    passed: bool
    reason: str


def _speed_line(
    subject: str, comparison: stats.Comparison, limit_pct: float, what: str
) -> GateLine:
    c = comparison
    detail = (
        f"{what} {c.change_pct:+.1f}% [95% CI {c.ci_pct[0]:+.1f}, {c.ci_pct[1]:+.1f}], "
        f"U p={c.p_value:.3g}"
    )
    if c.significant and c.change_pct < -limit_pct:
        return GateLine(
            subject,
            False,
            f"{detail}: significantly slower (p < {c.alpha:g}) by more than {limit_pct:g}%",
        )
    if c.change_pct < -limit_pct:
        return GateLine(subject, True, f"{detail}: beyond {limit_pct:g}% but not significant")
    return GateLine(subject, True, detail)


def _memory_metrics(row: analysis.MemoryRow) -> dict[str, int]:
    metrics = {f"TF peak {d}": v for d, v in row.tf_peak_bytes.items()}
    metrics.update({f"NVML process peak #{d}": v for d, v in row.nvml_process_peak_bytes.items()})
    if row.host_rss_peak_bytes:
        metrics["host RSS peak"] = row.host_rss_peak_bytes
    return metrics


def gate_runs(
    baseline: Sequence[dict[str, Any]],
    new: Sequence[dict[str, Any]],
    *,
    max_slowdown_pct: float = 5.0,
    max_memory_growth_pct: float = 5.0,
    alpha: float = 0.01,
) -> list[GateLine]:
    """Per cell in both runs: speed (U test and bootstrap CI) and every memory peak."""
    old_cells = {c.cell_id: c for c in analysis.cell_results(baseline)}
    new_cells = analysis.cell_results(new)
    old_memory = {r.cell.cell_id: r for r in analysis.memory_rows(list(old_cells.values()))}
    new_memory = {r.cell.cell_id: r for r in analysis.memory_rows(new_cells)}
    lines = []
    new_ids = {cell.cell_id for cell in new_cells}
    for cell_id, base in old_cells.items():
        if base.processes and cell_id not in new_ids:
            lines.append(GateLine(cell_id, False, "in the baseline but missing from the new run"))
    for cell in new_cells:
        base = old_cells.get(cell.cell_id)
        if not cell.processes:
            reason = f"no successful run in the new run ({', '.join(cell.statuses)})"
            lines.append(GateLine(cell.cell_id, base is None or not base.processes, reason))
            continue
        if base is None or not base.processes:
            lines.append(GateLine(cell.cell_id, True, "not in the baseline (or no success there)"))
            continue
        comparison = stats.compare(
            cell.processes, base.processes, alpha=alpha, min_effect_pct=max_slowdown_pct
        )
        lines.append(_speed_line(cell.cell_id, comparison, max_slowdown_pct, "images/s"))
        before = _memory_metrics(old_memory[cell.cell_id])
        after = _memory_metrics(new_memory[cell.cell_id])
        for metric in sorted(set(before) ^ set(after)):
            lines.append(GateLine(cell.cell_id, True, f"{metric}: in one run only, not compared"))
        for metric in sorted(set(before) & set(after)):
            if not before[metric]:
                continue  # a zero baseline (nothing read) says nothing about growth
            growth = (after[metric] / before[metric] - 1) * 100
            passed = growth <= max_memory_growth_pct
            verdict = "" if passed else f": grew more than {max_memory_growth_pct:g}%"
            lines.append(
                GateLine(
                    cell.cell_id,
                    passed,
                    f"{metric} {before[metric] / 2**20:,.1f} -> {after[metric] / 2**20:,.1f} MiB "
                    f"({growth:+.1f}%){verdict}",
                )
            )
    return lines


def gate_ratio(
    records: Sequence[dict[str, Any]],
    numerator: str,
    denominator: str,
    *,
    minimum: float = 0.97,
    alpha: float = 0.01,
) -> list[GateLine]:
    """Inside one run: fail where ``numerator`` is significantly slower than ``minimum`` x
    ``denominator`` (e.g. inplace/concat >= 0.97)."""
    if not 0 < minimum <= 1:
        raise ValueError(f"--min must be in (0, 1], got {minimum}")
    cells = analysis.cell_results(records)
    groups: dict[analysis.GroupKey, dict[str, analysis.CellResult]] = {}
    for cell in cells:
        groups.setdefault(cell.key, {})[cell.strategy] = cell
    lines = []
    limit_pct = (1 - minimum) * 100
    for key, strategies in groups.items():
        top, bottom = strategies.get(numerator), strategies.get(denominator)
        if top is None or bottom is None:
            continue
        backend = "" if key[4] == "keras3" else f"-{key[4]}"
        subject = f"{key[0]}-{key[1]}px-b{key[2]}-x{key[3]}{backend} {numerator}/{denominator}"
        if not top.processes or not bottom.processes:
            lines.append(GateLine(subject, False, "a strategy has no successful run"))
            continue
        comparison = stats.compare(
            top.processes, bottom.processes, alpha=alpha, min_effect_pct=limit_pct
        )
        lines.append(
            _speed_line(
                subject, comparison, limit_pct, f"ratio {1 + comparison.change_pct / 100:.3f},"
            )
        )
    if not lines:
        raise ValueError(f"no cell pairs {numerator}/{denominator} in these results")
    return lines

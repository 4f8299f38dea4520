"""Regression gates over runs: fail only on a significant AND large enough change.

Absolute times differ from machine to machine, so the gate between two runs is for one machine;
the ratio gate compares two strategies inside one run and does not care how fast the machine is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mgbench.analysis import comparisons, stats
from mgbench.analysis.cells import MemoryRow, cell_results, memory_rows
from mgbench.records.record import Record

MIB = 2**20


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


def _memory_metrics(row: MemoryRow | None) -> dict[str, int]:
    if row is None:
        return {}
    metrics = {f"TF peak {d}": v for d, v in row.tf_peak_bytes.items()}
    metrics.update({f"NVML process peak #{d}": v for d, v in row.nvml_process_peak_bytes.items()})
    if row.host_rss_peak_bytes:
        metrics["host RSS peak"] = row.host_rss_peak_bytes
    return metrics


def _memory_lines(
    subject: str, before: dict[str, int], after: dict[str, int], max_growth_pct: float
) -> list[GateLine]:
    lines = [
        GateLine(subject, True, f"{metric}: in one run only, not compared")
        for metric in sorted(set(before) ^ set(after))
    ]
    for metric in sorted(set(before) & set(after)):
        if not before[metric]:
            continue  # a zero baseline (nothing read) says nothing about growth
        growth = (after[metric] / before[metric] - 1) * 100
        passed = growth <= max_growth_pct
        verdict = "" if passed else f": grew more than {max_growth_pct:g}%"
        lines.append(
            GateLine(
                subject,
                passed,
                f"{metric} {before[metric] / MIB:,.1f} -> {after[metric] / MIB:,.1f} MiB "
                f"({growth:+.1f}%){verdict}",
            )
        )
    return lines


def gate_runs(
    baseline: Sequence[Record],
    new: Sequence[Record],
    *,
    max_slowdown_pct: float = 5.0,
    max_memory_growth_pct: float = 5.0,
    alpha: float = 0.01,
) -> list[GateLine]:
    """Per cell in both runs: speed (U test and bootstrap CI) and every memory peak."""
    old_cells, new_cells = cell_results(baseline), cell_results(new)
    old_memory = {row.cell.cell_id: row for row in memory_rows(old_cells)}
    new_memory = {row.cell.cell_id: row for row in memory_rows(new_cells)}
    lines = []
    for change in comparisons.run_changes(
        old_cells, new_cells, alpha=alpha, min_effect_pct=max_slowdown_pct
    ):
        before, after, subject = change.before, change.after, change.cell_id
        base_ok = before is not None and bool(before.processes)
        if after is None:
            if base_ok:
                lines.append(
                    GateLine(subject, False, "in the baseline but missing from the new run")
                )
        elif not after.processes:
            reason = f"no successful run in the new run ({', '.join(after.statuses)})"
            lines.append(GateLine(subject, not base_ok, reason))
        elif change.comparison is None:
            lines.append(GateLine(subject, True, "not in the baseline (or no success there)"))
        else:
            lines.append(_speed_line(subject, change.comparison, max_slowdown_pct, "images/s"))
            lines += _memory_lines(
                subject,
                _memory_metrics(old_memory.get(subject)),
                _memory_metrics(new_memory.get(subject)),
                max_memory_growth_pct,
            )
    return lines


def gate_ratio(
    records: Sequence[Record],
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
    limit_pct = (1 - minimum) * 100
    lines = []
    for ratio in comparisons.strategy_ratios(
        cell_results(records), numerator, denominator, alpha=alpha, min_effect_pct=limit_pct
    ):
        subject = f"{ratio.key.label} {numerator}/{denominator}"
        c = ratio.comparison
        if c is None:
            lines.append(GateLine(subject, False, "a strategy has no successful run"))
            continue
        what = f"ratio {1 + c.change_pct / 100:.3f},"
        lines.append(_speed_line(subject, c, limit_pct, what))
    if not lines:
        raise ValueError(f"no cell pairs {numerator}/{denominator} in these results")
    return lines
